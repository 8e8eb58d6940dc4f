import type { INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { PublishFailedError, RedisStreamsStatus, StreamPublisher } from '../src/index.js';
import { FirstHandler, PROBE, Probe, toRecord, type Call } from './support/stream-probe.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { sleep, waitFor } from './support/wait-for.js';

/** Crashes, restarts, lost connections and shutdowns, against a real redis-server. */
describe('RedisStreamsModule recovery', () => {
  const bed = streamsTestbed({ args: ['--appendfsync', 'always'] });
  let client: Redis;

  const start = (
    probe: Probe,
    overrides: Record<string, unknown> = {},
  ): Promise<INestApplication> =>
    bed.start(
      {
        consumerName: 'c1',
        claimMinIdleMs: 60_000,
        handlerDefaults: { blockMs: 100, maxAttempts: 5, backoff: { baseMs: 100, maxMs: 1_000 } },
        ...overrides,
      },
      [{ provide: PROBE, useValue: probe }, FirstHandler],
    );

  const pending = async (): Promise<number> =>
    Number(((await client.xpending('orders', 'first')) as [number])[0]);

  const messages = (calls: Call[]): string[] =>
    calls.map((c) => (c.payload as { message: string }).message);

  beforeAll(() => {
    client = bed.client;
  });

  it('splits the work of one group between two consumers without duplicates', async () => {
    const probe = new Probe();
    probe.behaviour = () => sleep(5);
    const a = await start(probe, { consumerName: 'a' });
    await start(probe, { consumerName: 'b' });
    const published = await a.get(StreamPublisher).publishMany(
      'orders',
      Array.from({ length: 200 }, (_, i) => ({ payload: { message: `m${i}` } })),
    );
    await waitFor(() => probe.calls.length >= 200, 'all 200 handled');
    await sleep(300);
    const ids = probe.calls.map((c) => c.message.id);
    expect(new Set(ids).size).toBe(200);
    expect(ids.length).toBe(200);
    expect(new Set(ids)).toEqual(new Set(published.map((p) => p.id)));
    const byConsumer = new Map<string, number>();
    for (const c of probe.calls)
      byConsumer.set(c.message.consumer, (byConsumer.get(c.message.consumer) ?? 0) + 1);
    expect(byConsumer.get('a')).toBeGreaterThan(0);
    expect(byConsumer.get('b')).toBeGreaterThan(0);
    await waitFor(async () => (await pending()) === 0, 'nothing pending');
  });

  it('never runs more handlers at once than its concurrency, with retries and reclaimed work competing', async () => {
    await client.xgroup('CREATE', 'orders', 'first', '0', 'MKSTREAM');
    for (let i = 0; i < 10; i++) await client.xadd('orders', '*', 'message', `orphan-${i}`);
    await client.xreadgroup('GROUP', 'first', 'dead-1', 'COUNT', 10, 'STREAMS', 'orders', '>');
    const probe = new Probe();
    let running = 0;
    let peak = 0;
    probe.behaviour = async (call) => {
      running += 1;
      peak = Math.max(peak, running);
      try {
        await sleep(15);
        const n = Number((call.payload as { message: string }).message.split('-')[1]);
        if (call.message.attempt === 1 && n % 3 === 0) throw new Error('first attempt fails');
      } finally {
        running -= 1;
      }
    };
    const app = await start(probe, {
      consumerName: 'live-1',
      claimMinIdleMs: 200,
      handlerDefaults: {
        blockMs: 100,
        concurrency: 3,
        batchSize: 10,
        maxAttempts: 5,
        backoff: { baseMs: 20, maxMs: 40 },
      },
    });
    await app.get(StreamPublisher).publishMany(
      'orders',
      Array.from({ length: 90 }, (_, i) => ({ payload: { message: `new-${i}` } })),
    );
    const handled = (): Set<string> => new Set(probe.calls.map((c) => c.message.id));
    await waitFor(
      async () => (await pending()) === 0 && handled().size === 100,
      'all 100 entries done',
      20_000,
    );
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBe(3);
  });

  it('re-processes its own pending entries first when restarted under the same name', async () => {
    await client.xgroup('CREATE', 'orders', 'first', '0', 'MKSTREAM');
    for (let i = 0; i < 3; i++) await client.xadd('orders', '*', 'message', `left-${i}`);
    // A process named c1 read these and died before acknowledging them.
    await client.xreadgroup('GROUP', 'first', 'c1', 'COUNT', 10, 'STREAMS', 'orders', '>');
    expect(await pending()).toBe(3);

    const probe = new Probe();
    await start(probe, { consumerName: 'c1', claimMinIdleMs: 60_000 });
    await waitFor(() => probe.calls.length === 3, 'the three recovered entries');
    expect(messages(probe.calls).sort()).toEqual(['left-0', 'left-1', 'left-2']);
    // The abandoned delivery counts as an attempt, so a poison entry that kills the process ends in the dead letters.
    expect(probe.calls.map((c) => c.message.attempt)).toEqual([2, 2, 2]);
    await waitFor(async () => (await pending()) === 0, 'nothing pending');
  });

  it('claims entries left by a dead consumer once they are idle longer than claimMinIdleMs', async () => {
    await client.xgroup('CREATE', 'orders', 'first', '0', 'MKSTREAM');
    await client.xadd('orders', '*', 'message', 'orphan');
    await client.xreadgroup('GROUP', 'first', 'dead-1', 'COUNT', 10, 'STREAMS', 'orders', '>');
    const orphanedAt = Date.now();

    const probe = new Probe();
    await start(probe, { consumerName: 'live-1', claimMinIdleMs: 500 });
    const [call] = await waitFor(
      () => (probe.calls.length ? probe.calls : null),
      'the claim',
      5_000,
    );
    expect(Date.now() - orphanedAt).toBeGreaterThanOrEqual(500);
    expect(call.message.consumer).toBe('live-1');
    expect(call.message.attempt).toBe(2);
    await waitFor(async () => (await pending()) === 0, 'nothing pending');
  });

  it('keeps a long-running handler from being claimed by another consumer', async () => {
    const probe = new Probe();
    probe.behaviour = () => sleep(1_500);
    const a = await start(probe, { consumerName: 'a', claimMinIdleMs: 300 });
    await start(probe, { consumerName: 'b', claimMinIdleMs: 300 });
    await a.get(StreamPublisher).publish('orders', { message: 'slow' });
    await waitFor(
      async () => (await pending()) === 0 && probe.calls.length > 0,
      'the slow one to finish',
      5_000,
    );
    await sleep(500);
    expect(probe.calls).toHaveLength(1);
  });

  it('cleans up pending entries whose stream entries were trimmed instead of retrying them forever', async () => {
    await client.xgroup('CREATE', 'orders', 'first', '0', 'MKSTREAM');
    for (let i = 0; i < 3; i++) await client.xadd('orders', '*', 'message', `gone-${i}`);
    await client.xreadgroup('GROUP', 'first', 'dead-1', 'COUNT', 10, 'STREAMS', 'orders', '>');
    await client.xtrim('orders', 'MAXLEN', 0);
    const probe = new Probe();
    await start(probe, { consumerName: 'live-1', claimMinIdleMs: 200 });
    await waitFor(
      async () => (await pending()) === 0,
      'the dangling pending entries to be dropped',
      5_000,
    );
    expect(probe.calls).toHaveLength(0);
  });

  it('creates the stream and group again when they are deleted at run time', async () => {
    const probe = new Probe();
    const app = await start(probe);
    await app.get(StreamPublisher).publish('orders', { message: 'before' });
    await waitFor(() => probe.calls.length === 1, 'the first event');
    await client.del('orders');
    await sleep(300);
    await app.get(StreamPublisher).publish('orders', { message: 'after' });
    await waitFor(() => probe.calls.length === 2, 'the event after the deletion', 5_000);
    expect(messages(probe.calls)).toEqual(['before', 'after']);
  });

  it('keeps one entry per eventId when the same event is published twice', async () => {
    const probe = new Probe();
    const app = await start(probe);
    const publisher = app.get(StreamPublisher);
    const first = await publisher.publish('orders', { message: 'once' }, { eventId: 'evt-1' });
    const second = await publisher.publish('orders', { message: 'once' }, { eventId: 'evt-1' });
    expect(second).toEqual({ ...first, duplicate: true });
    expect(first.duplicate).toBe(false);
    expect(await client.xlen('orders')).toBe(1);
    await expect(publisher.publish('orders', {}, { eventId: 'has space' })).rejects.toThrow(
      /eventId/,
    );
  });

  it('fails a publish fast while Redis is down, and recovers consumers and publisher when it is back', async () => {
    const probe = new Probe();
    const app = await start(probe, { publishTimeoutMs: 500 });
    const publisher = app.get(StreamPublisher);
    const accepted: string[] = [];
    let failed = 0;
    let stopped = false;

    const producer = (async () => {
      for (let i = 0; i < 400 && !stopped; i++) {
        try {
          await publisher.publish('orders', { message: `m${i}` });
          accepted.push(`m${i}`);
        } catch (error) {
          expect(error).toBeInstanceOf(PublishFailedError);
          failed += 1;
        }
        await sleep(5);
      }
    })();

    await waitFor(() => accepted.length >= 50, 'some accepted publishes');
    await bed.redis.kill();
    const downAt = Date.now();
    const t0 = Date.now();
    await expect(publisher.publish('orders', { message: 'while down' })).rejects.toThrow(
      PublishFailedError,
    );
    expect(Date.now() - t0).toBeLessThan(2_000);
    const status = app.get(RedisStreamsStatus);
    const ping = await status.ping(300);
    expect(ping.ok).toBe(false);
    await sleep(500);
    await bed.redis.restart();
    await waitFor(
      async () => (await status.ping(300)).ok,
      'the publisher connection to come back',
      10_000,
    );
    const recoveredIn = Date.now() - downAt;
    stopped = true;
    await producer;

    expect(failed).toBeGreaterThan(0);
    await waitFor(
      () => accepted.every((m) => messages(probe.calls).includes(m)),
      'every accepted event to be handled',
      15_000,
    );
    expect(status.consumers().every((c) => c.running)).toBe(true);
    expect(recoveredIn).toBeLessThan(10_000);
  });

  it('drains in-flight handlers on shutdown and leaves what outlives the timeout pending', async () => {
    const probe = new Probe();
    probe.behaviour = (call) =>
      sleep((call.payload as { message: string }).message === 'stuck' ? 2_500 : 400);
    const app = await start(probe, { shutdownTimeoutMs: 1_000 });
    const publisher = app.get(StreamPublisher);
    await publisher.publishMany('orders', [
      { payload: { message: 'quick-1' } },
      { payload: { message: 'quick-2' } },
      { payload: { message: 'stuck' } },
    ]);
    await waitFor(() => probe.calls.length === 3, 'all three to start');
    const status = app.get(RedisStreamsStatus);
    const t0 = Date.now();
    const closing = bed.close(app);
    await sleep(50);
    expect(status.shuttingDown).toBe(true);
    await closing;
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(3_000);

    // The two quick ones finished and were acknowledged; the stuck one is left for another consumer.
    const left = (await client.xpending('orders', 'first', '-', '+', 10)) as Array<
      [string, string, number, number]
    >;
    expect(left).toHaveLength(1);
    const [[id]] = left;
    const [[, fields]] = await client.xrange('orders', id, id);
    expect(JSON.parse(toRecord(fields).payload)).toEqual({ message: 'stuck' });
  });

  it('dead-letters binary and oversized values with their bytes intact', async () => {
    const probe = new Probe();
    await start(probe);
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41]);
    await client.xadd('orders', '*', 'message', binary);
    await client.xadd('orders', '*', 'message', 'x'.repeat(1024 * 1024 + 1));
    await client.xadd('orders', '*', 'message', 'fine');
    await waitFor(async () => (await client.xlen('orders:dlq')) === 2, 'two dead letters');
    await waitFor(() => probe.calls.length === 1, 'the good entry');
    // Dead letters of concurrent entries may come in any order: tell them apart by their reason.
    const dead = await client.xrangeBuffer('orders:dlq', '-', '+');
    const reasonOf = (fields: Buffer[]) => toRecord(fields.map(String))['dlq-error'];
    const notText = dead.find(([, fields]) => /UTF-8/.test(reasonOf(fields)))![1];
    expect(notText[0].toString()).toBe('message');
    expect(Buffer.compare(notText[1], binary)).toBe(0);
    const oversized = dead.find(([, fields]) => /over the limit/.test(reasonOf(fields)))![1];
    expect(oversized[1].length).toBe(1024 * 1024 + 1);
  });
});
