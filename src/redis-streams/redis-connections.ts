import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import { DEFAULTS } from './redis-streams.constants.js';
import { REDIS_STREAMS_OPTIONS } from './redis-streams.module-definition.js';
import type { RedisStreamsModuleOptions } from './redis-streams.options.js';
import { redactUrl } from './redact.js';

/**
 * Owns the module's Redis connections: one for commands (publish, ack, scripts) and one per
 * consumer loop for its blocking read, so a blocked XREADGROUP never delays a publish or an ack.
 */
@Injectable()
export class RedisConnections implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('RedisStreams');
  readonly command: Redis;
  private readonly blocking = new Set<Redis>();

  constructor(@Inject(REDIS_STREAMS_OPTIONS) private readonly options: RedisStreamsModuleOptions) {
    this.command = this.create('command', {
      commandTimeout: options.publishTimeoutMs ?? DEFAULTS.publishTimeoutMs,
    });
  }

  /**
   * Lets startup wait for the first connection, so the first requests do not meet a connection
   * still coming up; but only until the first attempt fails: with Redis down, the service starts
   * anyway (not ready, answering 503) and connects when Redis comes.
   */
  async onModuleInit(): Promise<void> {
    const connection = this.command;
    if (connection.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        connection.off('ready', done);
        connection.off('error', done);
        resolve();
      };
      const timer = setTimeout(done, DEFAULTS.startupConnectWaitMs);
      connection.once('ready', done);
      connection.once('error', done);
    });
  }

  /**
   * Resolves once the connection is ready, or rejects after `timeoutMs`. Commands are not queued
   * while disconnected, so callers wait here, briefly and boundedly, instead.
   */
  async whenReady(connection: Redis, timeoutMs: number): Promise<void> {
    if (connection.status === 'ready') return;
    if (connection.status === 'end') throw new Error('Redis connection is closed');
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer);
        connection.off('ready', onReady);
        connection.off('end', onEnd);
        if (error) reject(error);
        else resolve();
      };
      const onReady = (): void => done();
      const onEnd = (): void => done(new Error('Redis connection is closed'));
      const timer = setTimeout(
        () =>
          done(
            new Error(
              `Redis is not reachable (connection ${connection.status} for ${timeoutMs} ms)`,
            ),
          ),
        timeoutMs,
      );
      connection.on('ready', onReady);
      connection.on('end', onEnd);
    });
  }

  /** A new connection for one consumer's blocking reads; closed with the module. */
  createBlocking(name: string, blockMs: number): Redis {
    const connection = this.create(name, {
      // A dead TCP connection must not hold a blocked read forever.
      blockingTimeout: blockMs + 1_000,
      blockingTimeoutGrace: 1_000,
    });
    this.blocking.add(connection);
    return connection;
  }

  /** Closes one blocking connection, which also ends a read that is blocked on it. */
  closeBlocking(connection: Redis): void {
    this.blocking.delete(connection);
    connection.disconnect();
  }

  async onApplicationShutdown(): Promise<void> {
    for (const connection of this.blocking) connection.disconnect();
    this.blocking.clear();
    await this.command.quit().catch(() => this.command.disconnect());
  }

  private create(role: string, extra: Partial<RedisOptions>): Redis {
    const connection = new Redis(this.options.url, {
      connectionName: `${this.options.consumerName}:${role}`,
      // Fail fast while disconnected instead of queueing: callers answer 503 or retry themselves.
      enableOfflineQueue: false,
      // A command written before a disconnect may already be applied; never send it twice by itself.
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 5_000,
      retryStrategy: (times) =>
        Math.min(
          DEFAULTS.reconnectBaseDelayMs * 2 ** Math.min(times, 10),
          DEFAULTS.reconnectMaxDelayMs,
        ),
      ...this.options.redis,
      ...extra,
    });
    let lastError = '';
    connection.on('error', (error: Error) => {
      // ioredis repeats the same error on every reconnect attempt: log each distinct one once.
      if (error.message !== lastError) {
        lastError = error.message;
        this.logger.warn(
          `Redis ${role} connection to ${redactUrl(this.options.url)}: ${error.message}`,
        );
      }
    });
    connection.on('ready', () => {
      if (lastError) this.logger.log(`Redis ${role} connection is back`);
      lastError = '';
    });
    return connection;
  }
}
