import { Injectable } from '@nestjs/common';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  NonRetryableError,
  StreamHandler,
  StreamPublisher,
  type StreamMessage,
} from '@redis-streams-alerts/nestjs-redis-streams';
import {
  freePort,
  startStreamsTestApp,
  startTestRedis,
  StreamsNotIdleError,
  TestRedis,
  TestStreams,
} from '@redis-streams-alerts/nestjs-redis-streams/testing';

/** What the handlers here are told to do by the payload itself: fail the first `fail` attempts. */
interface Job {
  key: string;
  seq: number;
  fail?: number;
  /** Fail for good (dead letter at once). */
  refuse?: boolean;
}

function act(job: Job, message: StreamMessage): void {
  if (job.refuse) throw new NonRetryableError(`refused ${job.key}`);
  if (message.attempt <= (job.fail ?? 0)) throw new Error(`attempt ${message.attempt} failed`);
}

@Injectable()
class Flaky {
  @StreamHandler('orders', {
    group: 'flaky',
    maxAttempts: 3,
    backoff: { baseMs: 60_000, maxMs: 60_000 },
  })
  handle(job: Job, message: StreamMessage): void {
    act(job, message);
  }
}

@Injectable()
class QuickRetry {
  @StreamHandler('orders', { group: 'quick', maxAttempts: 3, backoff: { baseMs: 100, maxMs: 100 } })
  handle(job: Job, message: StreamMessage): void {
    act(job, message);
  }
}

/** Publishes an invoice for each order: work that only appears while the first is handled. */
@Injectable()
class Forwarder {
  constructor(private readonly publisher: StreamPublisher) {}

  @StreamHandler('orders', { group: 'forward' })
  async handle(job: Job): Promise<void> {
    await this.publisher.publish('invoices', job);
  }
}

@Injectable()
class SlowInvoicer {
  @StreamHandler('invoices', { group: 'invoice' })
  async handle(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
}

@Injectable()
class InOrder {
  @StreamHandler('orders', {
    group: 'in-order',
    ordered: true,
    maxAttempts: 3,
    backoff: { baseMs: 20, maxMs: 20 },
  })
  handle(job: Job, message: StreamMessage): void {
    act(job, message);
  }
}

/** Runs until `release()`: a handler call the test can hold open. */
const gate = {
  open: Promise.resolve(),
  release: () => undefined as void,
  close(): void {
    this.open = new Promise<void>((resolve) => (this.release = resolve));
  },
};

@Injectable()
class Held {
  @StreamHandler('orders', { group: 'held' })
  async handle(): Promise<void> {
    await gate.open;
  }
}

describe('The test kit (@redis-streams-alerts/nestjs-redis-streams/testing)', () => {
  let redis: TestRedis;
  let streams: TestStreams | undefined;

  const start = async (providers: Array<new (...args: never[]) => unknown>, module = {}) => {
    streams = await TestStreams.start({ redis, providers, module });
    return streams;
  };
  const publish = (job: Job) =>
    streams!.app.get(StreamPublisher).publish('orders', job, { partitionKey: job.key });

  beforeAll(async () => {
    redis = await TestRedis.start();
  });
  afterAll(() => redis.close());
  afterEach(async () => {
    gate.release();
    await streams?.close();
    streams = undefined;
    await redis.reset();
  });

  describe('idle()', () => {
    it('waits for what handlers publish to other streams, and for its handlers', async () => {
      // An app the test builds itself (here one with HTTP), watched with attach().
      const app = await startStreamsTestApp({
        redis,
        providers: [Forwarder, SlowInvoicer],
        create: (moduleRef) => moduleRef.createNestApplication({ logger: false }),
      });
      const watched = TestStreams.attach(app, { redis });
      try {
        for (let seq = 1; seq <= 5; seq++) {
          await app.get(StreamPublisher).publish('orders', { key: 'k', seq });
        }
        await watched.idle();
        expect(watched.calls({ group: 'invoice', outcome: 'handled' })).toHaveLength(5);
        expect(await watched.pending()).toEqual([]);
      } finally {
        await watched.close();
        await app.close();
      }
    });

    it('waits out the backoff of a retry by default', async () => {
      await start([QuickRetry]);
      await publish({ key: 'a', seq: 1, fail: 1 });
      await streams!.idle();
      expect(streams!.calls().map(({ outcome, attempt }) => [outcome, attempt])).toEqual([
        ['failed', 1],
        ['handled', 2],
      ]);
    });

    it("skips the backoff with retries: 'run-now' (60 s backoff, twice)", async () => {
      await start([Flaky]);
      const started = Date.now();
      await publish({ key: 'a', seq: 1, fail: 2 });
      await streams!.idle({ retries: 'run-now' });
      expect(Date.now() - started).toBeLessThan(4_000);
      expect(streams!.calls()).toMatchObject([
        {
          stream: 'orders',
          group: 'flaky',
          outcome: 'failed',
          attempt: 1,
          reason: 'Error: attempt 1 failed',
        },
        { outcome: 'failed', attempt: 2 },
        { outcome: 'handled', attempt: 3 },
      ]);
    });

    it('counts dead letters as done, and gives their reasons', async () => {
      await start([Flaky]);
      const refused = await publish({ key: 'a', seq: 1, refuse: true });
      const exhausted = await publish({ key: 'b', seq: 2, fail: 5 });
      await streams!.idle({ retries: 'run-now' });

      const letters = await streams!.deadLetters('orders');
      expect(letters).toMatchObject([
        { stream: 'orders', group: 'flaky', eventId: refused.eventId, attempts: 1 },
        { stream: 'orders', group: 'flaky', eventId: exhausted.eventId, attempts: 3 },
      ]);
      expect(letters[0].error).toContain('refused a');
      expect(letters[1].error).toContain('attempt 3 failed');
      expect(streams!.calls({ outcome: 'dead-lettered' })).toHaveLength(2);
      expect(await streams!.pending('orders')).toEqual([]);
    });

    it('waits for every partition of an ordered handler, retried in place', async () => {
      await start([InOrder], { partitions: { orders: 4 }, partitionLeaseMs: 3_000 });
      const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
      for (let seq = 1; seq <= 4; seq++) {
        for (const key of keys)
          await publish({ key, seq, fail: key === 'k2' && seq === 2 ? 1 : 0 });
      }
      await streams!.idle();

      const handled = streams!.calls({ outcome: 'handled' });
      expect(handled).toHaveLength(keys.length * 4);
      expect(streams!.calls({ outcome: 'failed' })).toMatchObject([
        { stream: 'orders', attempt: 1 },
      ]);
      expect(await streams!.pending()).toEqual([]);
    });

    it('fails with what is outstanding: a scheduled retry', async () => {
      await start([Flaky]);
      await publish({ key: 'a', seq: 1, fail: 1 });
      const error: unknown = await streams!.idle({ timeoutMs: 500 }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(StreamsNotIdleError);
      const { message, outstanding } = error as StreamsNotIdleError;
      expect(message).toMatch(/not idle within 500 ms/);
      expect(message).toMatch(
        /orders \/ flaky: 1 pending, 1 waiting for a scheduled retry, next due in \d+\.\d s/,
      );
      expect(message).toContain('streams.retries.runDue()');
      expect(outstanding.groups).toMatchObject([
        { stream: 'orders', group: 'flaky', pending: 1, retries: 1 },
      ]);
    });

    it('fails with what is outstanding: a handler call still running, and entries not delivered', async () => {
      gate.close();
      await start([Held], { handlerDefaults: { concurrency: 1, batchSize: 1 } });
      await publish({ key: 'a', seq: 1 });
      await publish({ key: 'a', seq: 2 });
      const error = (await streams!.idle({ timeoutMs: 300 }).catch((e: unknown) => e)) as Error;

      expect(error.message).toMatch(/orders \/ held: 1 not yet delivered, 1 pending/);
      expect(error.message).toMatch(/orders \/ held: 1 handler call\(s\) running in this app/);
      gate.release();
      await streams!.idle();
      expect(streams!.calls({ outcome: 'handled' })).toHaveLength(2);
    });
  });

  describe('retries', () => {
    it('lists scheduled retries, moves time on for them, and makes them due', async () => {
      await start([Flaky]);
      const { id } = await publish({ key: 'a', seq: 1, fail: 1 });
      await streams!.idle({ retries: 'leave-scheduled' });

      const [scheduled] = await streams!.retries.scheduled();
      expect(scheduled).toMatchObject({ stream: 'orders', group: 'flaky', id, attempts: 1 });
      expect(scheduled.dueAt - Date.now()).toBeGreaterThan(25_000);

      expect(await streams!.retries.advance(20_000)).toBe(1);
      const [advanced] = await streams!.retries.scheduled();
      expect(advanced.dueAt).toBe(scheduled.dueAt - 20_000);

      expect(await streams!.retries.runDue()).toBe(1);
      await streams!.idle();
      expect(streams!.calls().map(({ outcome }) => outcome)).toEqual(['failed', 'handled']);
      expect(await streams!.retries.scheduled()).toEqual([]);
    });
  });

  describe('a Redis for tests', () => {
    it('names what to install when there is no redis-server', async () => {
      const path = process.env.PATH;
      const empty = mkdtempSync(join(tmpdir(), 'no-redis-'));
      process.env.PATH = empty;
      try {
        await expect(TestRedis.start()).rejects.toThrow(
          /redis-server was not found on PATH.*apt-get install redis-server.*brew install redis.*REDIS_URL/s,
        );
      } finally {
        process.env.PATH = path;
        rmSync(empty, { recursive: true, force: true });
      }
    });

    it('uses REDIS_URL when set, and deletes only the keys of the streams it tracked', async () => {
      const shared = await TestRedis.start();
      const client = shared.client();
      const saved = process.env.REDIS_URL;
      try {
        await client.set('unrelated', '1');
        await client.set('orders-archive', '1');
        await client.set('ordersX', '1');
        process.env.REDIS_URL = shared.url;
        const external = await startTestRedis();
        expect(external).toMatchObject({ url: shared.url, owned: false });

        const watched = await TestStreams.start({ redis: external, providers: [Flaky] });
        const publisher = watched.app.get(StreamPublisher);
        await publisher.publish('orders', { key: 'a', seq: 1 });
        await publisher.publish('orders', { key: 'b', seq: 2, refuse: true });
        await publisher.publish('audit', { note: 'no handler reads this stream' });
        await watched.idle();
        await watched.close();
        expect(await client.keys('orders:*')).not.toEqual([]);

        await external.close();
        expect((await client.keys('*')).sort()).toEqual(['orders-archive', 'ordersX', 'unrelated']);
        expect(await client.ping()).toBe('PONG');
      } finally {
        process.env.REDIS_URL = saved;
        if (saved === undefined) delete process.env.REDIS_URL;
        client.disconnect();
        await shared.close();
      }
    });

    it('says which REDIS_URL does not answer, without its password', async () => {
      const saved = process.env.REDIS_URL;
      process.env.REDIS_URL = `redis://user:secret@127.0.0.1:${await freePort()}`;
      try {
        const error = (await startTestRedis().catch((e: unknown) => e)) as Error;
        expect(error.message).toMatch(
          /^REDIS_URL redis:\/\/user:\*\*\*@127\.0\.0\.1:\d+\/? does not answer/,
        );
        expect(error.message).not.toContain('secret');
      } finally {
        process.env.REDIS_URL = saved;
        if (saved === undefined) delete process.env.REDIS_URL;
      }
    });
  });

  it('docs/testing.md shows the example spec as it runs (testing-kit-example.e2e-spec.ts)', () => {
    const read = (path: string): string => readFileSync(new URL(path, import.meta.url), 'utf8');
    const example = read('./testing-kit-example.e2e-spec.ts');
    expect(read('../docs/testing.md')).toContain('```ts\n' + example + '```\n');
  });
});
