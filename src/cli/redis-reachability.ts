import { Inject, Injectable } from '@nestjs/common';
import { redisConfig, type RedisConfig } from '../config/redis.config.js';
import { RedisConnections, redactUrl } from '../redis-streams/index.js';
import { CLI_DEFAULTS } from './cli.constants.js';
import { CommandFailedError } from './cli.errors.js';

/**
 * Makes a command fail within a few seconds, with the reason, when Redis cannot be reached: the
 * library's connection keeps retrying in the background, which suits a service but not a tool.
 */
@Injectable()
export class RedisReachability {
  private readonly deadline = Date.now() + CLI_DEFAULTS.connectTimeoutMs;
  private lastError?: string;

  constructor(
    private readonly connections: RedisConnections,
    @Inject(redisConfig.KEY) private readonly config: RedisConfig,
  ) {
    // Listening from construction on: the first error may come before any command runs.
    connections.command.on('error', (error: Error) => (this.lastError = error.message));
  }

  /** Resolves once Redis answers; throws `CommandFailedError` when the time since startup is up. */
  async ensure(): Promise<void> {
    const timeoutMs = Math.max(0, this.deadline - Date.now());
    try {
      await this.connections.whenReady(this.connections.command, timeoutMs);
    } catch (error) {
      const reason = (this.lastError ?? (error as Error).message).replace(/\.+$/, '');
      throw new CommandFailedError(
        `Cannot reach Redis at ${redactUrl(this.config.url)} within ${CLI_DEFAULTS.connectTimeoutMs} ms: ${reason}. ` +
          'Check REDIS_URL (and REDIS_TLS_CA_FILE for rediss://) and that Redis is running.',
      );
    }
  }
}
