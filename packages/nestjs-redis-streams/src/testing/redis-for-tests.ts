import { ExternalRedis } from './external-redis.js';
import type { RedisForTests } from './redis-for-tests.interface.js';
import { TestRedis, type TestRedisOptions } from './test-redis.js';

/**
 * The Redis at `REDIS_URL` when it is set (e.g. a CI service container), otherwise a new
 * `TestRedis` on a free port. Nothing is flushed at REDIS_URL: see `RedisForTests.reset`.
 */
export async function startTestRedis(options: TestRedisOptions = {}): Promise<RedisForTests> {
  const url = process.env.REDIS_URL;
  if (url) return ExternalRedis.connect(url);
  return TestRedis.start(options);
}
