import type { Redis } from 'ioredis';
import { TestRedis, type TestRedisOptions } from './redis-server.js';
import { startReadyApp, type RunningApp } from './test-app.js';

/** Anything a spec starts and must stop again: an app, a webhook receiver, a process. */
export interface Closable {
  close(): Promise<void>;
}

/** What an app-level spec (or one `describe` of it) shares: one redis-server and what runs on it. */
export interface AppTestbed {
  readonly redis: TestRedis;
  /** A client for assertions, connected to `redis`. */
  readonly client: Redis;
  /** Starts the whole app on `redis` (`REDIS_URL` filled in) and waits until it is ready. */
  start(env: Record<string, string>): Promise<RunningApp>;
  /** Closes `thing` with the same lifetime as an app started here; returns it. */
  own<T extends Closable>(thing: T): T;
  /** Closes one owned thing before its time (a shutdown the test looks at). */
  close(thing: Closable): Promise<void>;
}

/**
 * Registers the hooks of the spec file (or the `describe` it is called in): a redis-server for all
 * of its tests. What a test starts is closed after that test; what `beforeAll` starts lives until
 * the end. After each test Redis is restarted if the test stopped it, and its data is flushed
 * unless something started in `beforeAll` still runs on it (its groups would vanish under it).
 */
export function appTestbed(options: TestRedisOptions = {}): AppTestbed {
  let redis: TestRedis | undefined;
  let client: Redis | undefined;
  let inTest = false;
  const forAll: Closable[] = [];
  const forTest: Closable[] = [];

  const closeAll = async (things: Closable[]): Promise<void> => {
    // Newest first: an app closes before the receiver it delivers to.
    for (const thing of things.splice(0).reverse()) await thing.close();
  };

  beforeAll(async () => {
    redis = await TestRedis.start(options);
    client = redis.client();
  });

  beforeEach(() => {
    inTest = true;
  });

  afterEach(async () => {
    inTest = false;
    await closeAll(forTest);
    if (redis && !redis.running) await redis.restart();
    if (forAll.length === 0) await client?.flushall();
  });

  afterAll(async () => {
    await closeAll(forAll);
    client?.disconnect();
    await redis?.destroy();
  });

  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the testbed starts in beforeAll');
    return value;
  };

  const testbed: AppTestbed = {
    get redis() {
      return started(redis);
    },
    get client() {
      return started(client);
    },
    async start(env) {
      return testbed.own(await startReadyApp({ REDIS_URL: started(redis).url, ...env }));
    },
    own(thing) {
      (inTest ? forTest : forAll).push(thing);
      return thing;
    },
    async close(thing) {
      for (const list of [forTest, forAll]) {
        const index = list.indexOf(thing);
        if (index !== -1) list.splice(index, 1);
      }
      await thing.close();
    },
  };
  return testbed;
}
