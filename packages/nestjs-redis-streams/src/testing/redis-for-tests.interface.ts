import type { Redis, RedisOptions } from 'ioredis';

/**
 * The Redis a test suite runs on: a redis-server of its own (`TestRedis`), or the one at
 * `REDIS_URL` (`ExternalRedis`). Either way `reset()` and `close()` leave nothing of the tests'
 * streams behind.
 */
export interface RedisForTests {
  readonly url: string;
  /** True for a redis-server the kit started and stops; false for the server at REDIS_URL. */
  readonly owned: boolean;
  /** A new ioredis client for assertions; the caller closes it. */
  client(options?: RedisOptions): Redis;
  /**
   * Notes streams the tests use, so that `reset()` can delete their keys on a server the kit does
   * not own. `TestStreams` tracks the streams of its app by itself.
   */
  track(streams: Iterable<string>): void;
  /**
   * Deletes what the tests wrote, after their apps have closed. A server of its own is flushed;
   * at REDIS_URL only the keys of tracked streams go (the stream and every key under `<stream>:`).
   */
  reset(): Promise<void>;
  /** `reset()` for REDIS_URL, then disconnects; a server of its own is killed and its folder deleted. */
  close(): Promise<void>;
}
