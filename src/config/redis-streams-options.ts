import { readFileSync } from 'node:fs';
import type { RedisStreamsModuleOptions } from '../redis-streams/index.js';
import type { AppConfig } from './app.config.js';
import type { RedisConfig } from './redis.config.js';

/** Maps the `redis` and `app` namespaces to the options of `RedisStreamsModule`. */
export function redisStreamsOptions(redis: RedisConfig, app: AppConfig): RedisStreamsModuleOptions {
  return {
    url: redis.url,
    // rediss:// turns TLS on in ioredis; the CA is only needed for a private certificate authority.
    redis: redis.tlsCaFile ? { tls: { ca: readFileSync(redis.tlsCaFile) } } : undefined,
    consumerName: redis.consumerName,
    claimMinIdleMs: redis.claimMinIdleMs,
    shutdownTimeoutMs: app.shutdownTimeoutMs,
    publishTimeoutMs: redis.publishTimeoutMs,
    handlerDefaults: {
      batchSize: redis.batchSize,
      concurrency: redis.concurrency,
      blockMs: redis.blockMs,
      maxAttempts: redis.retry.maxAttempts,
      backoff: { baseMs: redis.retry.backoffBaseMs, maxMs: redis.retry.backoffMaxMs },
    },
  };
}
