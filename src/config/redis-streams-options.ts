import { readFileSync } from 'node:fs';
import { ALERTS_STREAM } from '../alerts/alerts.constants.js';
import {
  partitionStreams,
  streamKeys,
  type RedisStreamsModuleOptions,
  type RetentionRule,
} from '../redis-streams/index.js';
import type { AppConfig } from './app.config.js';
import type { RedisConfig } from './redis.config.js';

/** Where Redis is, from REDIS_MODE and the variables of that mode. */
function where(redis: RedisConfig): Pick<RedisStreamsModuleOptions, 'url' | 'connection'> {
  switch (redis.mode) {
    case 'cluster':
      return { connection: { mode: 'cluster', nodes: redis.clusterNodes } };
    case 'sentinel':
      return {
        connection: {
          mode: 'sentinel',
          sentinels: redis.sentinels,
          // Validation requires it in this mode.
          name: redis.sentinelName ?? '',
          sentinelPassword: redis.sentinelPassword,
        },
      };
    default:
      return { url: redis.url };
  }
}

/** The Redis streams of the alerts (each partition, if partitioned). */
function alertsStreams(partitions: number): string[] {
  return partitions === 0 ? [ALERTS_STREAM] : partitionStreams(ALERTS_STREAM, partitions);
}

/**
 * Alerts are trimmed by count and age. Dead letters never by count: they are kept until replayed,
 * deleted or, if asked, too old; they are always watched, so that the storage alarm sees them.
 */
function retentionRules(redis: RedisConfig): RetentionRule[] {
  const streams = alertsStreams(redis.alertsPartitions);
  const limited = redis.retentionMaxLen > 0 || redis.retentionMaxAgeMs > 0;
  return [
    ...(limited
      ? streams.map((stream) => ({
          stream,
          ...(redis.retentionMaxLen > 0 ? { maxLen: redis.retentionMaxLen } : {}),
          ...(redis.retentionMaxAgeMs > 0 ? { maxAgeMs: redis.retentionMaxAgeMs } : {}),
        }))
      : []),
    ...streams.map((stream) => ({
      stream: streamKeys.deadLetter(stream),
      ...(redis.deadLetterMaxAgeMs > 0 ? { maxAgeMs: redis.deadLetterMaxAgeMs } : {}),
      ...(redis.deadLetterAlarmCount > 0 ? { alarmLength: redis.deadLetterAlarmCount } : {}),
    })),
  ];
}

/** Maps the `redis` and `app` namespaces to the options of `RedisStreamsModule`. */
export function redisStreamsOptions(redis: RedisConfig, app: AppConfig): RedisStreamsModuleOptions {
  return {
    ...where(redis),
    // rediss:// turns TLS on in ioredis; the CA is only needed for a private certificate authority.
    redis: redis.tlsCaFile ? { tls: { ca: readFileSync(redis.tlsCaFile) } } : undefined,
    consumerName: redis.consumerName,
    claimMinIdleMs: redis.claimMinIdleMs,
    shutdownTimeoutMs: app.shutdownTimeoutMs,
    publishTimeoutMs: redis.publishTimeoutMs,
    waitForReplicas: redis.waitForReplicas.replicas > 0 ? redis.waitForReplicas : undefined,
    partitions:
      redis.alertsPartitions > 0 ? { [ALERTS_STREAM]: redis.alertsPartitions } : undefined,
    retention: retentionRules(redis),
    retentionIntervalMs: redis.retentionIntervalMs,
    handlerDefaults: {
      batchSize: redis.batchSize,
      concurrency: redis.concurrency,
      blockMs: redis.blockMs,
      maxAttempts: redis.retry.maxAttempts,
      backoff: { baseMs: redis.retry.backoffBaseMs, maxMs: redis.retry.backoffMaxMs },
    },
  };
}
