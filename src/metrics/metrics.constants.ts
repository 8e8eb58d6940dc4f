/** Every metric about streams, groups and handlers starts with this. */
export const STREAM_METRIC_PREFIX = 'redis_streams_';

/** The labels of a series about one consumer group of a stream. */
export type GroupLabel = 'stream' | 'group';
export const GROUP_LABELS: GroupLabel[] = ['stream', 'group'];

/** Series about one receiver of alerts, labelled `receiver`, start with this. */
export const RECEIVER_METRIC_PREFIX = 'alerts_receiver_';

/** Node.js process metrics (CPU, memory, event loop, GC) of `collectDefaultMetrics` start with this. */
export const PROCESS_METRIC_PREFIX = 'alerts_';

/** Handler run time: most handlers take milliseconds; a webhook call may take up to its timeout. */
export const HANDLER_DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
] as const;

/** From append to acknowledgement: milliseconds when all is well, minutes after retries with backoff. */
export const END_TO_END_LATENCY_BUCKETS = [
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
] as const;

/**
 * Longest wait for Redis while a scrape reads the stream gauges, well under Prometheus' default
 * scrape timeout (10 s): past it, the scrape answers with `redis_streams_redis_up 0`.
 */
export const REDIS_READ_TIMEOUT_MS = 1_000;
