import type { INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import {
  RedisStreamsStatus,
  StreamPublisher,
  type RedisStreamsModuleOptions,
} from '../src/index.js';
import {
  InOrder,
  InOrderOnce,
  ORDERED_STREAM as STREAM,
  startOrdered,
} from './support/ordered-probe.js';
import { Probe, type Call } from './support/stream-probe.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { sleep, waitFor } from './support/wait-for.js';

/**
 * Ordered handlers when Redis misbehaves: a read whose reply never comes, pending entries deleted
 * from the stream, Redis out of memory. Each key's events must be handled exactly in order, once
 * each, and nothing may stay pending or be dead-lettered for Redis's own fault.
 */
describe('RedisStreamsModule ordered handlers under faults', () => {
  const bed = streamsTestbed();
  let client: Redis;

  const start = (
    probe: Probe,
    options: Partial<RedisStreamsModuleOptions> = {},
    handlers: Array<typeof InOrder | typeof InOrderOnce> = [InOrder],
  ): Promise<INestApplication> => startOrdered(bed, probe, options, handlers);

  const pendingCount = async (group = 'in-order'): Promise<number> =>
    Number(((await client.xpending(STREAM, group)) as [number])[0]);

  const numbers = (calls: Call[]): number[] => calls.map((c) => (c.payload as { n: number }).n);

  /** An entry as the publisher writes it, appended with a plain client (which waits as long as it takes). */
  const append = (redis: Redis, n: number): Promise<string | null> =>
    redis.xadd(STREAM, '*', 'eventId', `e${n}`, 'payload', JSON.stringify({ n }));

  beforeAll(() => {
    client = bed.client;
  });

  it('takes back the entries of a read whose reply was lost before reading anything newer', async () => {
    const probe = new Probe();
    // A lease that outlasts the stall, so the partition stays with this instance throughout.
    const app = await start(probe, { partitionLeaseMs: 30_000 });
    await app.get(StreamPublisher).publish('orders', { n: 1 }, { eventId: 'e1' });
    await waitFor(() => probe.calls.length === 1, 'the first entry');

    // The partition's XREADGROUP (BLOCK 100) is waiting in Redis when Redis stops answering for
    // longer than the client waits for it (BLOCK + 1 s); e2 and e3 arrive during the stall and go
    // to a read whose reply the consumer no longer waits for.
    const sleeper = bed.connect();
    const writer = bed.connect();
    await sleep(150);
    const stalled = sleeper.call('DEBUG', 'SLEEP', '4');
    await sleep(100);
    const during = [append(writer, 2), append(writer, 3)];
    await stalled;
    await Promise.all(during);
    await sleep(500);
    await append(writer, 4);
    await append(writer, 5);

    await waitFor(() => probe.calls.length >= 5, 'five entries handled', 15_000);
    await waitFor(async () => (await pendingCount()) === 0, 'nothing pending', 10_000);
    await sleep(300);
    expect(numbers(probe.calls)).toEqual([1, 2, 3, 4, 5]);
    // None of them ran before: none of them spent an attempt.
    expect(probe.calls.map((c) => c.message.attempt)).toEqual([1, 1, 1, 1, 1]);
  }, 40_000);

  it("takes over an entry that a former owner's late read took after this owner started", async () => {
    const probe = new Probe();
    await start(probe);
    await waitFor(
      async () => ((await client.xinfo('GROUPS', STREAM)) as unknown[]).length === 1,
      'the group',
    );
    await sleep(200);
    // A read of a former owner reaches Redis only now (it was held up in the network) and takes e1,
    // atomically with its append, so this owner's read never sees it; e2 comes after.
    await client
      .multi()
      .xadd(STREAM, '*', 'eventId', 'e1', 'payload', JSON.stringify({ n: 1 }))
      .xreadgroup('GROUP', 'in-order', 'former', 'COUNT', 10, 'STREAMS', STREAM, '>')
      .exec();
    await append(client, 2);

    await waitFor(() => probe.calls.length >= 2, 'both entries handled', 10_000);
    await waitFor(async () => (await pendingCount()) === 0, 'nothing pending');
    expect(numbers(probe.calls)).toEqual([1, 2]);
    expect(probe.calls.map((c) => c.message.attempt)).toEqual([1, 1]);
  });

  it('drains the pending list at takeover even when a whole page of it was deleted from the stream', async () => {
    // A former owner read 10 entries and stopped; then the first 6 were deleted (trimmed), more than
    // one takeover page (batchSize 4): the first claim comes back empty, though 4 entries wait.
    const ids: string[] = [];
    for (let n = 1; n <= 10; n++) ids.push((await append(client, n))!);
    await client.xgroup('CREATE', STREAM, 'in-order', '0');
    await client.xreadgroup('GROUP', 'in-order', 'former', 'COUNT', 10, 'STREAMS', STREAM, '>');
    await client.xdel(STREAM, ...ids.slice(0, 6));

    const probe = new Probe();
    const app = await start(probe, {
      handlerDefaults: {
        blockMs: 100,
        batchSize: 4,
        maxAttempts: 3,
        backoff: { baseMs: 50, maxMs: 100 },
      },
    });
    await waitFor(() => probe.calls.length >= 4, 'the four entries left pending', 10_000);
    await app.get(StreamPublisher).publish('orders', { n: 11 }, { eventId: 'e11' });
    await waitFor(() => probe.calls.length >= 5, 'the new entry', 10_000);
    await waitFor(async () => (await pendingCount()) === 0, 'nothing pending');
    expect(numbers(probe.calls)).toEqual([7, 8, 9, 10, 11]);
    // Only the oldest pending entry may have been running when the former owner stopped.
    expect(probe.calls.map((c) => c.message.attempt)).toEqual([2, 1, 1, 1, 1]);
  });

  it('keeps entries pending and in order, spending no attempt, while Redis is out of memory', async () => {
    // The handlers' own step needs memory: a write to Redis of their own. Their first calls wait
    // until Redis is full.
    const own = bed.connect();
    const probe = new Probe();
    let full: () => void = () => undefined;
    const filled = new Promise<void>((resolve) => (full = resolve));
    probe.behaviour = async ({ payload, handler }) => {
      await filled;
      await own.set(`${handler}:note:${(payload as { n: number }).n}`, 'x'.repeat(1_000));
    };
    const app = await start(probe, {}, [InOrder, InOrderOnce]);
    const status = app.get(RedisStreamsStatus);
    for (let n = 1; n <= 5; n++) await append(client, n);
    await waitFor(
      () => probe.of('in-order').length > 0 && probe.of('in-order-once').length > 0,
      'both handlers to start on the first entry',
    );
    const used = Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
    await client.config('SET', 'maxmemory-policy', 'noeviction');
    await client.config('SET', 'maxmemory', String(Math.floor(used / 2)));
    try {
      full();
      // Far beyond three attempts with a backoff of 50-100 ms.
      await sleep(2_500);
      expect(await client.xlen(`${STREAM}:dlq`)).toBe(0);
      // The plain handler failed on its own write again and again, always as attempt 1. The
      // idempotent one failed once; then claiming its eventId again needed memory too.
      for (const group of ['in-order', 'in-order-once']) {
        const calls = probe.of(group);
        expect(new Set(numbers(calls))).toEqual(new Set([1]));
        expect(new Set(calls.map((c) => c.message.attempt))).toEqual(new Set([1]));
      }
      expect(probe.of('in-order').length).toBeGreaterThan(3);
      expect(status.consumers().map((c) => c.lastError)).toEqual([
        expect.stringContaining('OOM'),
        expect.stringContaining('OOM'),
      ]);
    } finally {
      await client.config('SET', 'maxmemory', '0');
    }

    for (const group of ['in-order', 'in-order-once']) {
      await waitFor(
        () => new Set(numbers(probe.of(group))).size === 5,
        `all five handled by ${group}`,
        10_000,
      );
      await waitFor(async () => (await pendingCount(group)) === 0, `nothing pending in ${group}`);
    }
    const distinct = (calls: Call[]): number[] =>
      numbers(calls).filter((n, i, all) => i === 0 || all[i - 1] !== n);
    expect(distinct(probe.of('in-order'))).toEqual([1, 2, 3, 4, 5]);
    expect(distinct(probe.of('in-order-once'))).toEqual([1, 2, 3, 4, 5]);
    expect(await client.xlen(`${STREAM}:dlq`)).toBe(0);
    await waitFor(
      () => status.consumers().every((c) => c.lastError === undefined),
      'the errors to clear',
    );
  }, 40_000);
});
