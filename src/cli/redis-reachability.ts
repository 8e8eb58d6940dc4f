import { Injectable } from '@nestjs/common';
import { RedisConnections, type RedisMode } from '@redis-streams-alerts/nestjs-redis-streams';
import { CLI_DEFAULTS } from './cli.constants.js';
import { CommandFailedError } from './cli.errors.js';

/** The variables that say where Redis is, per mode. */
const SETTINGS: Record<RedisMode, string> = {
  standalone: 'REDIS_URL (and REDIS_TLS_CA_FILE for rediss://)',
  cluster: 'REDIS_CLUSTER_NODES',
  sentinel: 'REDIS_SENTINELS and REDIS_SENTINEL_NAME',
};

/**
 * Makes a command fail within a few seconds, with the reason, when Redis cannot be reached: the
 * library's connection keeps retrying in the background, which suits a service but not a tool.
 */
@Injectable()
export class RedisReachability {
  private readonly deadline = Date.now() + CLI_DEFAULTS.connectTimeoutMs;

  constructor(private readonly connections: RedisConnections) {}

  /** Resolves once Redis answers; throws `CommandFailedError` when the time since startup is up. */
  async ensure(): Promise<void> {
    const timeoutMs = Math.max(0, this.deadline - Date.now());
    try {
      await this.connections.whenReady(this.connections.command, timeoutMs);
    } catch (error) {
      // The connection records its errors from the start: the first may come before any command.
      const reason = (this.connections.lastError ?? (error as Error).message).replace(/\.+$/, '');
      throw new CommandFailedError(
        `Cannot reach Redis at ${this.connections.description} within ${CLI_DEFAULTS.connectTimeoutMs} ms: ${reason}. ` +
          `Check ${SETTINGS[this.connections.mode]} and that Redis is running.`,
      );
    }
  }
}
