import { readFileSync } from 'node:fs';
import { ALERTS_DEAD_LETTER_STREAM, ALERTS_STREAM } from '../alerts/alerts.constants.js';
import {
  partitionStreams,
  streamKeys,
  type RedisStreamsModuleOptions,
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

/** The Redis streams of the alerts and their dead letters. */
function alertsStreams(partitions: number): string[] {
  if (partitions === 0) return [ALERTS_STREAM, ALERTS_DEAD_LETTER_STREAM];
  return partitionStreams(ALERTS_STREAM, partitions).flatMap((stream) => [
    stream,
    streamKeys.deadLetter(stream),
  ]);
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
    retention:
      redis.retentionMaxLen > 0
        ? alertsStreams(redis.alertsPartitions).map((stream) => ({
            stream,
            maxLen: redis.retentionMaxLen,
          }))
        : undefined,
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
