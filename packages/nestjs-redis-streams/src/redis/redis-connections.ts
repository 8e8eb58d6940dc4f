import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { coalesceWrites } from './coalesced-writes.js';
import { DEFAULTS } from '../redis-streams.constants.js';
import { REDIS_STREAMS_OPTIONS } from '../redis-streams.module-definition.js';
import type {
  RedisConnectionOptions,
  RedisNodeAddress,
  RedisStreamsModuleOptions,
} from '../interfaces/redis-streams.options.js';
import { redactUrl } from '../util/redact.js';

/**
 * A connection to Redis in any mode: one server or the master behind Sentinel (`Redis`), or a
 * Redis Cluster (`Cluster`, which routes each command to the node that owns its keys).
 */
export type RedisClient = Redis | Cluster;

/** How the module reaches Redis: one server, a Cluster, or a master found through Sentinel. */
export type RedisMode = RedisConnectionOptions['mode'];

/** ioredis options that only a single-server connection takes; a Cluster sets them itself. */
type NodeOnlyOptions = 'port' | 'host' | 'path' | 'sentinels' | 'retryStrategy' | 'readOnly';

/**
 * Owns the module's Redis connections: one for commands (publish, ack, scripts) and one per
 * consumer loop for its blocking read, so a blocked XREADGROUP never delays a publish or an ack.
 * Depending on `connection`, each is a connection to one server, a Cluster client, or a
 * connection to the master that Sentinel names, which follows the master across failovers.
 */
@Injectable()
export class RedisConnections implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('RedisStreams');
  readonly command: RedisClient;
  /** Where Redis is, as configured. */
  readonly connection: RedisConnectionOptions;
  /** Where Redis is, without any password: for logs and error messages. */
  readonly description: string;
  private readonly blocking = new Set<RedisClient>();
  private commandLastError?: string;

  constructor(@Inject(REDIS_STREAMS_OPTIONS) private readonly options: RedisStreamsModuleOptions) {
    this.connection = resolveConnection(options);
    this.description = describeConnection(this.connection);
    this.command = this.create(
      'command',
      {
        commandTimeout: options.publishTimeoutMs ?? DEFAULTS.publishTimeoutMs,
        // No auto-pipelining: the Pipeline it makes for each turn of the event loop outlives
        // young-generation collections (see write-together.ts), which made every GC pause longer.
      },
      (error) => (this.commandLastError = error),
    );
    // One write per turn of the event loop for the commands of concurrent callers; a Cluster
    // client writes to each node through connections of its own, left as they are.
    if (this.command instanceof Redis) coalesceWrites(this.command);
  }

  get mode(): RedisMode {
    return this.connection.mode;
  }

  /**
   * Whether a command may reach Redis twice though it was sent once: a Cluster client resends the
   * commands in flight on a node that failed, and so does a client whose `redis` options turn
   * `autoResendUnfulfilledCommands` back on.
   */
  get mayResend(): boolean {
    return this.mode === 'cluster' || this.options.redis?.autoResendUnfulfilledCommands === true;
  }

  /** The last error of the command connection while it is not ready; cleared once it is. */
  get lastError(): string | undefined {
    return this.commandLastError;
  }

  /**
   * Lets startup wait for the first connection, so the first requests do not meet a connection
   * still coming up; but only until the first attempt fails: with Redis down, the service starts
   * anyway (not ready, answering 503) and connects when Redis comes.
   */
  async onModuleInit(): Promise<void> {
    const connection = emitter(this.command);
    if (this.command.status === 'ready') return;
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
  async whenReady(connection: RedisClient, timeoutMs: number): Promise<void> {
    if (connection.status === 'ready') return;
    if (connection.status === 'end') throw new Error('Redis connection is closed');
    const events = emitter(connection);
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer);
        events.off('ready', onReady);
        events.off('end', onEnd);
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
      events.on('ready', onReady);
      events.on('end', onEnd);
    });
  }

  /**
   * The connections to the servers that hold the data, for checks that must ask each of them
   * (PING, CONFIG GET): every master a Cluster client knows, or the one connection otherwise.
   */
  dataNodes(): Array<{ address: string; redis: Redis }> {
    const command = this.command;
    if (command instanceof Cluster) {
      return command
        .nodes('master')
        .map((redis) => ({ address: `${redis.options.host}:${redis.options.port}`, redis }));
    }
    return [{ address: this.description, redis: command }];
  }

  /** A new connection for one consumer's blocking reads; closed with the module. */
  createBlocking(name: string, blockMs: number): RedisClient {
    const connection = this.create(name, {
      // A dead TCP connection must not hold a blocked read forever.
      blockingTimeout: blockMs + 1_000,
      blockingTimeoutGrace: 1_000,
      // Every other command on it too (the acknowledgements sent with a read, the handshake): a
      // read's pipeline settles only when each of its commands has, and ioredis 6 (without
      // autoResendUnfulfilledCommands) drops the commands in flight when a connection closes
      // and reconnects at once, without ever settling them.
      commandTimeout: blockMs + 1_500,
    });
    this.blocking.add(connection);
    return connection;
  }

  /** Closes one blocking connection, which also ends a read that is blocked on it. */
  closeBlocking(connection: RedisClient): void {
    this.blocking.delete(connection);
    connection.disconnect();
  }

  async onApplicationShutdown(): Promise<void> {
    for (const connection of this.blocking) connection.disconnect();
    this.blocking.clear();
    await this.command.quit().catch(() => undefined);
    // Also after QUIT: through Sentinel, only disconnect() closes the failover detector's own
    // connections to the Sentinels (ioredis 6), which would otherwise keep the process alive.
    this.command.disconnect();
  }

  private create(
    role: string,
    extra: Partial<RedisOptions>,
    onError?: (message: string | undefined) => void,
  ): RedisClient {
    const common: Partial<RedisOptions> = {
      connectionName: `${this.options.consumerName}:${role}`,
      // A command written before a disconnect may already be applied; never send it twice by itself.
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 5_000,
    };
    const target = this.connection;
    let connection: RedisClient;
    if (target.mode === 'cluster') {
      connection = new Cluster(target.nodes, {
        ...CLUSTER_OPTIONS,
        clusterRetryStrategy: (times) => backoff(times, DEFAULTS.reconnectMaxDelayMs),
        redisOptions: withoutNodeOnly({ ...common, ...this.options.redis, ...extra }),
      });
    } else if (target.mode === 'sentinel') {
      connection = new Redis({
        sentinels: target.sentinels,
        name: target.name,
        sentinelPassword: target.sentinelPassword,
        // Ask the Sentinels again soon after losing the master: they name the new one within a few
        // seconds of a failover, and every retry in between is a quick refused connection.
        retryStrategy: (times) => backoff(times, DEFAULTS.failoverReconnectMaxDelayMs),
        sentinelRetryStrategy: (times) => backoff(times, DEFAULTS.failoverReconnectMaxDelayMs),
        // Also drop the connection when Sentinel announces a new master, in case the old one still
        // answers (a partition) instead of being gone.
        failoverDetector: true,
        // Fail fast while disconnected instead of queueing: callers answer 503 or retry themselves.
        enableOfflineQueue: false,
        ...common,
        ...this.options.redis,
        ...extra,
      });
    } else {
      connection = new Redis(target.url, {
        enableOfflineQueue: false,
        retryStrategy: (times) => backoff(times, DEFAULTS.reconnectMaxDelayMs),
        ...common,
        ...this.options.redis,
        ...extra,
      });
    }
    this.watch(connection, role, onError);
    return connection;
  }

  /** Logs each distinct connection error once, and when the connection is back. */
  private watch(
    connection: RedisClient,
    role: string,
    onError?: (message: string | undefined) => void,
  ): void {
    const events = emitter(connection);
    let lastError = '';
    const report = (message: string): void => {
      onError?.(message);
      // ioredis repeats the same error on every reconnect attempt: log each distinct one once.
      if (message === lastError) return;
      lastError = message;
      this.logger.warn(`Redis ${role} connection to ${this.description}: ${message}`);
    };
    events.on('error', (error: Error) => report(error.message));
    // A Cluster client reports a failing node here; it keeps serving the other nodes' slots.
    events.on('node error', (error: Error, address: string) =>
      report(`node ${address}: ${error.message}`),
    );
    events.on('ready', () => {
      if (lastError) this.logger.log(`Redis ${role} connection is back`);
      lastError = '';
      onError?.(undefined);
    });
  }
}

/**
 * Cluster settings that wait through a failover instead of failing: a command for a master that
 * is gone is retried every 200 ms, up to 50 times (about 10 s), while its replica is promoted and
 * the slot map is refreshed. Commands are still never queued while the client is not ready.
 */
const CLUSTER_OPTIONS: ClusterOptions = {
  enableOfflineQueue: false,
  retryDelayOnFailover: DEFAULTS.clusterRetryDelayMs,
  retryDelayOnClusterDown: DEFAULTS.clusterRetryDelayMs,
  retryDelayOnTryAgain: DEFAULTS.clusterRetryDelayMs,
  maxRedirections: DEFAULTS.clusterMaxRedirections,
};

/** Exponential backoff from `reconnectBaseDelayMs`, capped at `maxMs`. */
function backoff(times: number, maxMs: number): number {
  return Math.min(DEFAULTS.reconnectBaseDelayMs * 2 ** Math.min(times, 10), maxMs);
}

function withoutNodeOnly(options: Partial<RedisOptions>): Omit<RedisOptions, NodeOnlyOptions> {
  const copy: Partial<RedisOptions> = { ...options };
  for (const name of ['port', 'host', 'path', 'sentinels', 'retryStrategy', 'readOnly'] as const) {
    delete copy[name];
  }
  delete copy.enableOfflineQueue;
  return copy;
}

/** `Redis` and `Cluster` are both event emitters, but their `on` overloads do not unite. */
function emitter(connection: RedisClient): NodeJS.EventEmitter {
  return connection as unknown as NodeJS.EventEmitter;
}

/** The connection the options describe: `url` is short for a standalone `connection`. */
export function resolveConnection(options: RedisStreamsModuleOptions): RedisConnectionOptions {
  const { url, connection } = options;
  if (url !== undefined && connection !== undefined) {
    throw new Error('RedisStreamsModule: give either `url` or `connection`, not both');
  }
  if (connection) {
    if (connection.mode === 'cluster' && connection.nodes.length === 0) {
      throw new Error('RedisStreamsModule: a cluster connection needs at least one node');
    }
    if (connection.mode === 'sentinel' && connection.sentinels.length === 0) {
      throw new Error('RedisStreamsModule: a sentinel connection needs at least one Sentinel');
    }
    return connection;
  }
  if (url !== undefined) return { mode: 'standalone', url };
  throw new Error('RedisStreamsModule: give `url` or `connection` to say where Redis is');
}

/** Where Redis is, without passwords. */
export function describeConnection(connection: RedisConnectionOptions): string {
  const list = (nodes: RedisNodeAddress[]): string =>
    nodes.map(({ host, port }) => `${host}:${port}`).join(',');
  switch (connection.mode) {
    case 'cluster':
      return `cluster ${list(connection.nodes)}`;
    case 'sentinel':
      return `master "${connection.name}" of sentinels ${list(connection.sentinels)}`;
    default:
      return redactUrl(connection.url);
  }
}
