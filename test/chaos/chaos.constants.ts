/**
 * Names and settings of the chaos run, in one place: what the processes are told, how long each
 * phase lasts, and the seeds CI runs.
 */

/** The alerts service's stream, dead letters and the group that calls the webhook. */
export const ALERTS = {
  stream: 'alerts',
  deadLetters: 'alerts:dlq',
  webhookGroup: 'alerts-webhook',
} as const;

/**
 * The ordered workers' stream: the alerts service has no ordered handler (its webhook delivery runs
 * with concurrency and promises no order), so order is checked where the library promises it, on
 * an `ordered: true` handler of a partitioned stream run by `ordered-worker.ts`.
 */
export const ORDERED = {
  stream: 'orders',
  group: 'orders-in-order',
  partitions: 4,
  /** Partition keys; each key's events are published one after the other, 1, 2, 3, ... */
  keys: 6,
} as const;

/**
 * Retry and timeout settings shared by the alerts instances and the ordered workers. Eight attempts
 * with backoff from 200 ms to 2 s span about 9 s, longer than any receiver fault of the schedule
 * (at most 5 s), so an alert is dead-lettered only when receiver faults come back to back.
 */
export const RETRIES = {
  maxAttempts: 8,
  backoffBaseMs: 200,
  backoffMaxMs: 2_000,
  /** The webhook timeout; a stalled receiver answers only after it. */
  webhookTimeoutMs: 1_000,
} as const;

/**
 * Lease of an ordered partition. A holder stops starting handlers two thirds of it after its last
 * renewal (3.3 s), so Redis pauses of 1.7–3.3 s (past a read's 1.7 s timeout) hit a holder that
 * keeps its partition, while longer pauses and SIGSTOPs of a worker (up to 8 s) make others take over.
 */
export const PARTITION_LEASE_MS = 5_000;

/** Alerts instances and ordered workers the run starts. */
export const PROCESS_COUNTS = { instances: 3, workers: 2 } as const;

/**
 * Length of the fault phase of a CI run, and the seeds CI runs. Each plans every kind of fault, an
 * out-of-memory spell right after the receiver failed, a Redis pause longer than a read's timeout
 * but shorter than the partition lease, and a SIGSTOP of a worker longer than that lease.
 */
export const CI = {
  faultMs: 40_000,
  seeds: [240, 250, 585],
} as const;

/** After the faults: the longest wait for the system to settle, and for each process to start. */
export const WAITS = {
  settleMs: 60_000,
  readyMs: 30_000,
  /** A POST with no answer after this long counts as a timeout. */
  publishTimeoutMs: 5_000,
  /** SIGTERM at the end: SHUTDOWN_TIMEOUT_MS plus the service's own 5 s grace, plus a margin. */
  exitMs: 12_000,
} as const;
