/** Metadata key under which `@StreamHandler` stores its options on a method. */
export const STREAM_HANDLER_METADATA = 'redis-streams:handler';

/** Defaults for every option a handler or the module can set; one place, no magic numbers. */
export const DEFAULTS = {
  batchSize: 16,
  concurrency: 8,
  prefetch: 0,
  partitionLeaseMs: 10_000,
  blockMs: 2_000,
  maxAttempts: 5,
  backoffBaseMs: 1_000,
  backoffMaxMs: 60_000,
  claimMinIdleMs: 30_000,
  shutdownTimeoutMs: 10_000,
  publishTimeoutMs: 2_000,
  pingTimeoutMs: 1_000,
  dedupWindowMs: 24 * 60 * 60 * 1_000,
  /**
   * How long a publish call's reply is kept where the client may send a call twice, so that the
   * second run answers it instead of appending again. A Cluster client resends the commands in
   * flight on a failed node for up to clusterMaxRedirections × clusterRetryDelayMs (about 10 s);
   * the rest is margin. Not an option: it only has to outlast the client's own resends.
   */
  resendGuardMs: 30_000,
  retentionIntervalMs: 10_000,
  /**
   * Entries one retention step reads to find where the count cap falls: each step is one short
   * script, so a large surplus is trimmed in many short steps rather than one long one.
   */
  retentionStepEntries: 500,
  /** Share of Redis `maxmemory` in use from which the storage alarm warns. */
  memoryAlarmRatio: 0.8,
  /** Longest wait at startup for the first connection to Redis. */
  startupConnectWaitMs: 3_000,
  /** How many pending entries one reclaim pass inspects. */
  reclaimBatch: 100,
  /**
   * A consumer of a group idle this long with nothing pending is deleted (XGROUP DELCONSUMER): with
   * pod-named consumers each rollout leaves some behind. Far above any block time or claimMinIdleMs.
   */
  staleConsumerIdleMs: 60 * 60 * 1_000,
  /** Longest wait between two looks for stale consumers; also at most a quarter of staleConsumerIdleMs. */
  staleConsumerCheckMs: 10 * 60 * 1_000,
  /** Most consumers one look deletes. */
  staleConsumersPerCheck: 100,
  /** Fields of the attempts hash one sweep step inspects (see SWEEP_BOOKKEEPING). */
  bookkeepingSweepBatch: 100,
  /** Longest wait between two tries of a read loop while Redis is unreachable. */
  reconnectMaxDelayMs: 2_000,
  reconnectBaseDelayMs: 50,
  /** First wait of an entry whose call Redis failed (full, read-only, unreachable); doubles while it fails. */
  redisWaitBaseMs: 100,
  /** Longest such wait: how long after Redis has room again an entry may still be waiting. */
  redisWaitMaxMs: 5_000,
  /** Longest wait between two reconnects to a Sentinel-managed master: a failover is followed quickly. */
  failoverReconnectMaxDelayMs: 500,
  /** Cluster: wait between two tries of a command whose node is gone or whose slot is moving. */
  clusterRetryDelayMs: 200,
  /** Cluster: tries (redirections and retries) of one command: with the delay above, about 10 s. */
  clusterMaxRedirections: 50,
} as const;

/** Suffix of the dead-letter stream of a stream. */
export const DEAD_LETTER_SUFFIX = ':dlq';

/** Fields the publisher writes; everything else in an entry is a flat payload field. */
export const FIELD = {
  eventId: 'eventId',
  payload: 'payload',
  publishedAt: 'publishedAt',
} as const;

/** Fields the dead-letter stream adds to the original ones. */
export const DLQ_FIELD = {
  error: 'dlq-error',
  attempts: 'dlq-attempts',
  group: 'dlq-group',
  consumer: 'dlq-consumer',
  originalId: 'dlq-original-id',
  stream: 'dlq-stream',
  failedAt: 'dlq-failed-at',
} as const;

/** Bounds of what operators read and repair (`StreamInspector`, `DeadLetters`). */
export const INSPECTION = {
  /** Largest page of pending entries or dead letters one call returns. */
  maxPage: 500,
  /** Dead letters one replay script call moves. */
  replayChunk: 100,
} as const;
