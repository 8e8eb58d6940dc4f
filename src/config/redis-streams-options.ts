import { readFileSync } from 'node:fs';
import type { RedisStreamsModuleOptions } from '@redis-streams-alerts/nestjs-redis-streams';
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

/**
 * Maps the `redis` and `app` namespaces to the options of `RedisStreamsModule`. The streams
 * themselves (partitions, retention) are declared by the modules that own them (`forFeature`).
 */
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
    retentionIntervalMs: redis.retentionIntervalMs,
    // The api role consumes nothing; stream upkeep (retention) is background work, like the
    // consumers', and runs where they do.
    ...(app.role === 'api' && { consumersEnabled: false, retentionEnabled: false }),
    handlerDefaults: {
      batchSize: redis.batchSize,
      concurrency: redis.concurrency,
      blockMs: redis.blockMs,
      maxAttempts: redis.retry.maxAttempts,
      backoff: { baseMs: redis.retry.backoffBaseMs, maxMs: redis.retry.backoffMaxMs },
    },
  };
}
