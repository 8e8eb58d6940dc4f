import type { Redis, RedisOptions } from 'ioredis';
import {
  TestRedis,
  type TestRedisOptions,
} from '@redis-streams-alerts/nestjs-redis-streams/testing';
import { FaultProxy } from './fault-proxy.js';
import { generateTlsCertificates, type TlsCertificates } from './tls-certs.js';
import { waitFor } from './wait-for.js';

/** Anything a spec starts and must stop again: an app, a webhook receiver, a process, a browser. */
export interface Closable {
  close(): Promise<void>;
}

export interface RedisTestbedOptions extends Omit<TestRedisOptions, 'tls'> {
  /** A `FaultProxy` in front of the redis-server (`proxy`), healed after each test. */
  faultProxy?: boolean;
  /** TLS only (no plain port), with a certificate of a throwaway CA; clients need `tls.caFile`. */
  tls?: boolean;
}

/** What one lifetime (a test, or the whole spec) started, oldest first. */
class Lifetime {
  private readonly things: Array<{ thing: Closable; app: boolean }> = [];

  add(thing: Closable, app: boolean): void {
    this.things.push({ thing, app });
  }

  /**
   * Newest first, so that an app closes before the receiver it delivers to and after the browser
   * that polls it; apps started one after another close all at once, since each may wait for its
   * handlers to drain.
   */
  async close(): Promise<void> {
    const things = this.things.splice(0).reverse();
    while (things.length > 0) {
      const { thing, app } = things.shift()!;
      const apps = [thing];
      while (app && things[0]?.app) apps.push(things.shift()!.thing);
      await Promise.all(apps.map((each) => each.close()));
    }
  }

  forget(thing: Closable): void {
    const index = this.things.findIndex((each) => each.thing === thing);
    if (index !== -1) this.things.splice(index, 1);
  }
}

/**
 * Registers the hooks of the spec file (or of the `describe` it is called in): a redis-server for
 * all of its tests, and a client for assertions. What a test starts is closed after that test; what
 * `beforeAll` starts lives until the end. After each test Redis is thawed, and restarted if the test
 * stopped it; its data is flushed unless `beforeAll` started an app (the tests share its data).
 */
export class RedisTestbed {
  private server?: TestRedis;
  private certificates?: TlsCertificates;
  private assertions?: Redis;
  private faults?: FaultProxy;
  private inTest = false;
  private shared = false;
  private readonly forAll = new Lifetime();
  private readonly forTest = new Lifetime();

  constructor(options: RedisTestbedOptions = {}) {
    const { faultProxy, tls, ...redisOptions } = options;
    beforeAll(async () => {
      if (tls) this.certificates = generateTlsCertificates();
      // Append-only by default, unlike the kit: tests that kill or stop Redis expect their data back.
      this.server = await TestRedis.start({
        appendOnly: true,
        ...redisOptions,
        tls: this.certificates,
      });
      this.assertions = this.server.client();
      if (faultProxy) this.faults = await FaultProxy.start(this.server.port);
    });

    beforeEach(() => {
      this.inTest = true;
    });

    afterEach(async () => {
      this.inTest = false;
      // Before the apps close: those connected through the proxy must reach Redis to stop.
      await this.faults?.heal();
      this.server?.thaw();
      await this.forTest.close();
      if (this.server && !this.server.running) await this.server.restart();
      if (!this.shared) await this.assertions?.flushall();
    });

    afterAll(async () => {
      await this.forAll.close();
      await this.faults?.close();
      this.assertions?.disconnect();
      await this.server?.close();
      this.certificates?.remove();
    });
  }

  get redis(): TestRedis {
    return started(this.server);
  }

  /** A client for assertions, connected to `redis`. */
  get client(): Redis {
    return started(this.assertions);
  }

  /** The proxy in front of `redis` (option `faultProxy`); its `url` reaches Redis through it. */
  get proxy(): FaultProxy {
    if (!this.faults && this.server) throw new Error('the testbed has no faultProxy');
    return started(this.faults);
  }

  /** Closes `thing` with the same lifetime as an app started here; returns it. */
  own<T extends Closable>(thing: T): T {
    this.lifetime().add(thing, false);
    return thing;
  }

  /** Closes one owned thing before its time (a shutdown the test looks at). */
  async close(thing: Closable): Promise<void> {
    this.forTest.forget(thing);
    this.forAll.forget(thing);
    await thing.close();
  }

  /** Another client of `redis` (or of the server `to`), disconnected with its lifetime. */
  connect({ to = this.redis, ...options }: RedisOptions & { to?: TestRedis } = {}): Redis {
    const client = to.client(options);
    this.own({ close: async () => client.disconnect() });
    return client;
  }

  /** Another redis-server, destroyed with its lifetime. */
  async startRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
    const server = await TestRedis.start({ appendOnly: true, ...options });
    return this.own(server);
  }

  /** A replica of `redis`, resolved once it acknowledges writes (WAIT), as a full sync ends. */
  async startReplica(): Promise<TestRedis> {
    const client = this.client;
    await client.config('SET', 'repl-diskless-sync-delay', '0');
    const replica = await this.startRedis({
      appendOnly: false,
      args: ['--replicaof', '127.0.0.1', String(this.redis.port)],
    });
    await waitFor(
      async () => /^slave0:.*state=online/m.test(await client.info('replication')),
      'the replica to be online',
    );
    // Just after a full sync the replica loads the data set and acknowledges nothing for about a second.
    await waitFor(async () => {
      await client.set('replica-warm-up', String(Date.now()));
      return (await client.wait(1, 200)) === 1;
    }, 'the replica to acknowledge writes');
    await client.del('replica-warm-up');
    return replica;
  }

  /** For the testbeds that start apps: an app started in `beforeAll` keeps the data for all tests. */
  protected ownApp<T extends Closable>(app: T): T {
    if (!this.inTest) this.shared = true;
    this.lifetime().add(app, true);
    return app;
  }

  private lifetime(): Lifetime {
    return this.inTest ? this.forTest : this.forAll;
  }
}

function started<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('the testbed starts in beforeAll');
  return value;
}
