import type { RedisOptions } from 'ioredis';
import type { BackoffOptions, StreamHandlerBaseOptions } from './stream-handler.interface.js';

/** A host and port of a Redis node or a Sentinel. */
export interface RedisNodeAddress {
  host: string;
  port: number;
}

/**
 * Where Redis is. `standalone`: one server (or a proxy) at a URL. `cluster`: a Redis Cluster,
 * found through any of its nodes; every stream needs a hash tag (`app:{alerts}`) so that all its keys
 * share one slot. `sentinel`: the current master of the group `name`, asked from the Sentinels and
 * followed across failovers.
 */
export type RedisConnectionOptions =
  | { mode: 'standalone'; url: string }
  | { mode: 'cluster'; nodes: RedisNodeAddress[] }
  | {
      mode: 'sentinel';
      sentinels: RedisNodeAddress[];
      /** Name of the master group, as in `sentinel monitor <name> ...`. */
      name: string;
      /** Password of the Sentinels themselves (`requirepass` in sentinel.conf), if they have one. */
      sentinelPassword?: string;
    };

/** Options of `RedisStreamsModule.forRoot` / `forRootAsync`. */
export interface RedisStreamsModuleOptions {
  /**
   * `redis://` or `rediss://` URL of one server; user name and password may be in it. Short for
   * `connection: { mode: 'standalone', url }`. Give either `url` or `connection`.
   */
  url?: string;
  /** Where Redis is, for Cluster and Sentinel; give either `url` or `connection`. */
  connection?: RedisConnectionOptions;
  /**
   * Extra ioredis options (TLS CA, ...) merged over the module's own; on Cluster they apply to
   * each node's connection (`redisOptions`).
   */
  redis?: Partial<RedisOptions>;
  /** Consumer name of this instance; must stay the same across restarts so own pending work is recovered. */
  consumerName: string;
  /** Defaults for every handler; a handler's own options win. */
  handlerDefaults?: Partial<HandlerRuntimeDefaults>;
  /** Entries pending longer than this on a consumer that stopped are claimed by a live consumer. */
  claimMinIdleMs?: number;
  /**
   * Consumers of a group idle this long with nothing pending are deleted, by any live consumer of
   * the group (default an hour): names that a rollout left behind. Keep it far above `claimMinIdleMs`.
   */
  staleConsumerIdleMs?: number;
  /** How long in-flight handlers may run on shutdown before their entries are left pending. */
  shutdownTimeoutMs?: number;
  /** How long a publish may wait for Redis before it fails. */
  publishTimeoutMs?: number;
  /** How long `publish` remembers an eventId to drop a second publish of it. */
  dedupWindowMs?: number;
  /**
   * Streams to keep within a size cap and/or an age limit, and to watch (length, bytes, alarms).
   * Entries that some group has not yet received and acknowledged are never trimmed; a stream
   * held over its limits raises an alarm instead. Each run also reads Redis's memory use.
   */
  retention?: RetentionRule[];
  /** How often the retention rules run. */
  retentionIntervalMs?: number;
  /** Wait for this many replicas to confirm each publish (Redis WAIT); 0 or absent: do not wait. */
  waitForReplicas?: { replicas: number; timeoutMs: number };
  /** Do not start consumers (publish-only instances, tools). */
  consumersEnabled?: boolean;
  /** Do not run the retention rules, neither these nor those of `forFeature` (tools). */
  retentionEnabled?: boolean;
  /**
   * Logical streams split into partitions, by name: `{ alerts: 8 }` makes `alerts` the eight
   * streams `alerts:{0}` ... `alerts:{7}` (hash-tagged: spread over a Cluster's shards). Publishing
   * routes each event by its `partitionKey`; handlers of the logical stream consume every partition.
   * A module that owns a stream can declare it instead, with `RedisStreamsModule.forFeature`.
   */
  partitions?: Record<string, number>;
  /**
   * Ordered handlers: how long a partition lease and a membership last without renewal (default
   * 10 s). A dead instance's partitions are taken over after about this long.
   */
  partitionLeaseMs?: number;
}

/** Handler settings that the module can default. */
export interface HandlerRuntimeDefaults {
  batchSize: number;
  concurrency: number;
  /** See `StreamHandlerOptions.prefetch`. */
  prefetch: number;
  blockMs: number;
  maxAttempts: number;
  backoff: BackoffOptions;
}

/**
 * What to keep of one stream. An entry is trimmed when it is past the count cap or older than the
 * age limit, and only once every consumer group has received and acknowledged it. A rule without
 * limits only watches the stream.
 */
export interface RetentionRule {
  stream: string;
  /**
   * Keep about this many newest entries; absent or 0: no count cap. Refused on a dead-letter
   * stream (`<stream>:dlq`): dead letters are kept until they are replayed, deleted or too old.
   */
  maxLen?: number;
  /** Trim entries older than this (by the time in their id); absent or 0: no age limit. */
  maxAgeMs?: number;
  /** Raise a storage alarm while the stream holds at least this many entries; absent or 0: none. */
  alarmLength?: number;
}

/**
 * A stream as the module that owns it declares it (`RedisStreamsModule.forFeature`): its
 * partitions and what to keep of it and of its dead letters. Limits of 0 count as absent.
 */
export interface StreamFeatureOptions {
  /** The logical stream, as handlers and `publish` name it. */
  stream: string;
  /** Split into this many partitions (see the module's `partitions`); absent: one stream. */
  partitions?: number;
  /** Retention of the stream, of each partition if partitioned; absent: neither trimmed nor watched. */
  retention?: Omit<RetentionRule, 'stream'>;
  /**
   * Retention of its dead letters (each partition's), never by count; absent: not watched. An
   * empty object watches them, so that health and metrics report them.
   */
  deadLetters?: Omit<RetentionRule, 'stream' | 'maxLen'>;
  /**
   * Flow settings of the stream's consumer groups, by group name, as the module that owns the
   * stream decides them (from its configuration, say); they win over the handler's own options.
   */
  groups?: Record<string, GroupFlowOptions>;
}

/** Per-group settings a stream's declaration may set (see StreamFeatureOptions.groups). */
export type GroupFlowOptions = Pick<
  StreamHandlerBaseOptions,
  'rateLimit' | 'maxAgeMs' | 'timeoutMs' | 'circuitBreaker' | 'maxAttempts'
>;
