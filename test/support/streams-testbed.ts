import type { INestApplication, Provider, Type } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { RedisStreamsModuleOptions } from '../../src/redis-streams/index.js';
import { TestRedis, type TestRedisOptions } from './redis-server.js';
import { startStreamsApp } from './streams-app.js';

/** What a spec file of the streams module shares: one redis-server and the apps its tests start. */
export interface StreamsTestbed {
  readonly redis: TestRedis;
  /** A client for assertions, connected to `redis`. */
  readonly client: Redis;
  /** Starts an app on `redis` (its URL is filled in); closed after the test. */
  start(
    options: Omit<RedisStreamsModuleOptions, 'url'>,
    providers: Array<Provider | Type>,
  ): Promise<INestApplication>;
  /** Closes one app before the test ends (a shutdown the test looks at). */
  close(app: INestApplication): Promise<void>;
}

/**
 * Registers the spec file's hooks: a redis-server for the whole file, every app closed and the
 * data flushed after each test (Redis restarted first if a test stopped it), all removed at the end.
 */
export function streamsTestbed(options: TestRedisOptions = {}): StreamsTestbed {
  let redis: TestRedis | undefined;
  let client: Redis | undefined;
  const apps: INestApplication[] = [];

  beforeAll(async () => {
    redis = await TestRedis.start(options);
    client = redis.client();
  });

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    if (redis && !redis.running) await redis.restart();
    await client?.flushall();
  });

  afterAll(async () => {
    client?.disconnect();
    await redis?.destroy();
  });

  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the testbed starts in beforeAll');
    return value;
  };

  return {
    get redis() {
      return started(redis);
    },
    get client() {
      return started(client);
    },
    async start(moduleOptions, providers) {
      const app = await startStreamsApp({ url: started(redis).url, ...moduleOptions }, providers);
      apps.push(app);
      return app;
    },
    async close(app) {
      const index = apps.indexOf(app);
      if (index !== -1) apps.splice(index, 1);
      await app.close();
    },
  };
}
