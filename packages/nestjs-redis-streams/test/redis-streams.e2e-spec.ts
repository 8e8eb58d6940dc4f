import type { INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { NonRetryableError, StreamEvents, StreamPublisher } from '../src/index.js';
import { compareStreamIds } from '../src/stream-id.js';
import {
  FirstHandler,
  OrderDto,
  PROBE,
  Probe,
  SecondHandler,
  toRecord,
} from './support/stream-probe.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { waitFor } from './support/wait-for.js';

describe('RedisStreamsModule against a real redis-server', () => {
  const bed = streamsTestbed({ args: ['--appendfsync', 'always'] });
  let client: Redis;

  const start = (
    probe: Probe,
    handlers: Array<typeof FirstHandler | typeof SecondHandler>,
    overrides: Record<string, unknown> = {},
  ): Promise<INestApplication> =>
    bed.start(
      {
        consumerName: 'c1',
        claimMinIdleMs: 60_000,
        handlerDefaults: { blockMs: 100, maxAttempts: 3, backoff: { baseMs: 100, maxMs: 1_000 } },
        ...overrides,
      },
      [{ provide: PROBE, useValue: probe }, ...handlers],
    );

  const pendingCount = async (stream: string, group: string): Promise<number> => {
    const summary = (await client.xpending(stream, group)) as [number, ...unknown[]];
    return Number(summary[0]);
  };

  beforeAll(() => {
    client = bed.client;
  });

  it('publishes, handles and acknowledges; the entry stays readable with plain XREAD', async () => {
    const probe = new Probe();
    const app = await start(probe, [FirstHandler]);
    const publisher = app.get(StreamPublisher);

    const result = await publisher.publish('orders', { message: 'hello', priority: 'high' });
    expect(result.id).toMatch(/^\d+-\d+$/);
    expect(result.eventId).toMatch(/^[0-9a-f-]{36}$/);

    await waitFor(() => probe.of('first').length === 1, 'the handler to run');
    const [call] = probe.of('first');
    expect(call.payload).toBeInstanceOf(OrderDto);
    expect(call.payload).toEqual({ message: 'hello', priority: 'high' });
    expect(call.message).toMatchObject({
      id: result.id,
      eventId: result.eventId,
      attempt: 1,
      stream: 'orders',
      group: 'first',
    });
    await waitFor(async () => (await pendingCount('orders', 'first')) === 0, 'the acknowledgement');

    const plain = await client.xread('STREAMS', 'orders', '0');
    const [, entries] = plain![0];
    expect(entries[0][1]).toEqual(expect.arrayContaining(['eventId', result.eventId, 'payload']));
    expect(entries[0][1].join(' ')).toContain('"message":"hello"');
  });

  it('sends concurrent publishes to Redis together, and still answers each caller with its own entry', async () => {
    const app = await start(new Probe(), []);
    const publisher = app.get(StreamPublisher);
    await publisher.publish('orders', { message: 'warm-up' });
    const scriptCalls = async (): Promise<number> => {
      const stats = await client.info('commandstats');
      return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
    };
    const before = await scriptCalls();

    const results = await Promise.all(
      Array.from({ length: 450 }, (_, i) =>
        publisher.publish('orders', { message: `m${i}` }, { eventId: `concurrent-${i % 300}` }),
      ),
    );

    // 450 publishes of one turn of the event loop: 18 script calls of up to 25, not 450.
    expect((await scriptCalls()) - before).toBe(18);
    expect(await client.xlen('orders')).toBe(1 + 300);
    // Only eventIds the callers chose get a de-duplication key; the generated one of the warm-up
    // cannot come back, so it has none.
    expect(await client.keys('orders:dedup:*')).toHaveLength(300);
    const entries = await client.xrange('orders', '-', '+');
    const byEventId = new Map(entries.map(([id, fields]) => [fields[1], { id, fields }]));
    results.forEach((result, i) => {
      expect(result.eventId).toBe(`concurrent-${i % 300}`);
      // The first publish of an eventId appended it; a later one in the same batch is a duplicate.
      expect(result.duplicate).toBe(i >= 300);
      const entry = byEventId.get(result.eventId)!;
      expect(result.id).toBe(entry.id);
      expect(entry.fields.join(' ')).toContain(`"message":"m${i % 300}"`);
    });
  });

  it('fails every caller of a batch that Redis refuses, and appends nothing for them', async () => {
    const app = await start(new Probe(), []);
    const publisher = app.get(StreamPublisher);
    await client.set('orders', 'not a stream');
    const outcomes = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => publisher.publish('orders', { message: `m${i}` })),
    );
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect(String((outcome as PromiseRejectedResult).reason)).toMatch(
        /Could not publish to stream "orders": .*WRONGTYPE/,
      );
    }
    expect(await client.keys('orders:dedup:*')).toEqual([]);
  });

  it('sends its script again when Redis lost it, and appends each event once', async () => {
    const app = await start(new Probe(), []);
    const publisher = app.get(StreamPublisher);
    await publisher.publish('orders', { message: 'loads the script' });
    await client.script('FLUSH');
    // 60 events with generated eventIds (not de-duplicated): three script calls, all refused
    // with NOSCRIPT, then sent again with the source.
    const results = await publisher.publishMany(
      'orders',
      Array.from({ length: 60 }, (_, i) => ({ payload: { message: `m${i}` } })),
    );
    expect(results).toHaveLength(60);
    expect(await client.xlen('orders')).toBe(1 + 60);
    const entries = await client.xrange('orders', '-', '+');
    expect(entries.slice(1).map(([id]) => id)).toEqual(results.map((r) => r.id));
  });

  it('reports what happens to listeners: published, handled with latency, failed, dead-lettered', async () => {
    const probe = new Probe();
    probe.behaviour = (call) => {
      if ((call.payload as OrderDto).message === 'bad') throw new NonRetryableError('no');
    };
    const app = await start(probe, [FirstHandler]);
    const seen: Record<string, unknown[]> = {};
    const record = (hook: string) => (event: unknown) => (seen[hook] ??= []).push(event);
    app.get(StreamEvents).subscribe({
      published: record('published'),
      handled: record('handled'),
      failed: record('failed'),
      deadLettered: record('deadLettered'),
    });
    const publisher = app.get(StreamPublisher);
    await publisher.publishMany('orders', [
      { payload: { message: 'ok' }, eventId: 'e1' },
      { payload: { message: 'bad' }, eventId: 'e2' },
    ]);
    await publisher.publish('orders', { message: 'ok' }, { eventId: 'e1' });
    await waitFor(
      () => seen.handled?.length === 1 && seen.deadLettered?.length === 1,
      'the events',
    );
    expect(seen.published).toEqual([
      { stream: 'orders', count: 2, duplicates: 0 },
      { stream: 'orders', count: 0, duplicates: 1 },
    ]);
    const [handled] = seen.handled as Array<{ durationMs: number; latencyMs: number }>;
    expect(handled).toMatchObject({ stream: 'orders', group: 'first' });
    expect(handled.durationMs).toBeGreaterThanOrEqual(0);
    expect(handled.latencyMs).toBeGreaterThanOrEqual(0);
    expect(handled.latencyMs).toBeLessThan(5_000);
    expect(seen.failed).toEqual([
      {
        stream: 'orders',
        group: 'first',
        id: expect.any(String),
        eventId: 'e2',
        attempt: 1,
        retrying: false,
        reason: 'NonRetryableError: no',
      },
    ]);
  });

  it('consumes flat fields written by any Redis client, and uses the entry id as eventId', async () => {
    const probe = new Probe();
    await start(probe, [FirstHandler]);
    const id = await client.xadd('orders', '*', 'message', 'Critical alert! Server down.');
    await waitFor(() => probe.of('first').length === 1, 'the handler to run');
    expect(probe.of('first')[0].payload).toEqual({
      message: 'Critical alert! Server down.',
      priority: 'low',
    });
    expect(probe.of('first')[0].message.eventId).toBe(id);
  });

  it('starts a new group at the beginning of the stream: events published before it are not skipped', async () => {
    await client.xadd('orders', '*', 'message', 'early');
    const probe = new Probe();
    await start(probe, [FirstHandler]);
    await waitFor(() => probe.of('first').length === 1, 'the early event');
  });

  it('gives every event to each handler on the same stream', async () => {
    const probe = new Probe();
    const app = await start(probe, [FirstHandler, SecondHandler]);
    const publisher = app.get(StreamPublisher);
    const published = await publisher.publishMany(
      'orders',
      Array.from({ length: 20 }, (_, i) => ({ payload: { message: `m${i}` } })),
    );
    expect(published).toHaveLength(20);
    await waitFor(
      () => probe.of('first').length === 20 && probe.of('second').length === 20,
      'both handlers',
    );
    const ids = (handler: string): string[] =>
      probe
        .of(handler)
        .map((c) => c.message.id)
        .sort();
    expect(ids('first')).toEqual(published.map((p) => p.id).sort());
    expect(ids('second')).toEqual(ids('first'));
  });

  it('retries a failing handler at growing intervals, then dead-letters it with the reason', async () => {
    const probe = new Probe();
    probe.behaviour = () => {
      throw new Error('downstream is down');
    };
    const app = await start(probe, [FirstHandler], {
      handlerDefaults: { blockMs: 100, maxAttempts: 4, backoff: { baseMs: 200, maxMs: 5_000 } },
    });
    const { id, eventId } = await app.get(StreamPublisher).publish('orders', { message: 'doomed' });

    await waitFor(async () => (await client.xlen('orders:dlq')) === 1, 'the dead letter', 15_000);
    const calls = probe.of('first');
    expect(calls.map((c) => c.message.attempt)).toEqual([1, 2, 3, 4]);
    const gaps = calls.slice(1).map((c, i) => c.at - calls[i].at);
    // Equal jitter: after attempt n the wait is within [base·2^(n-1)/2, base·2^(n-1)].
    expect(gaps[0]).toBeGreaterThanOrEqual(100);
    expect(gaps[1]).toBeGreaterThanOrEqual(200);
    expect(gaps[2]).toBeGreaterThanOrEqual(400);
    expect(gaps[2]).toBeGreaterThan(gaps[0]);

    const [[dlqId, flat]] = await client.xrange('orders:dlq', '-', '+');
    expect(dlqId).toBeTruthy();
    const fields = toRecord(flat);
    expect(fields).toMatchObject({
      eventId,
      'dlq-error': expect.stringContaining('downstream is down'),
      'dlq-attempts': '4',
      'dlq-group': 'first',
      'dlq-consumer': 'c1',
      'dlq-original-id': id,
      'dlq-stream': 'orders',
    });
    expect(JSON.parse(fields.payload)).toEqual({ message: 'doomed' });
    expect(Date.parse(fields['dlq-failed-at'])).not.toBeNaN();
    expect(await pendingCount('orders', 'first')).toBe(0);
    expect(await client.zcard('orders:retries:first')).toBe(0);
    expect(await client.hlen('orders:attempts:first')).toBe(0);
  });

  it('does not hold up other messages while a retry waits', async () => {
    const probe = new Probe();
    probe.behaviour = (call) => {
      if ((call.payload as OrderDto).message === 'flaky' && call.message.attempt === 1)
        throw new Error('once');
    };
    const app = await start(probe, [FirstHandler], {
      handlerDefaults: {
        blockMs: 100,
        concurrency: 1,
        maxAttempts: 3,
        backoff: { baseMs: 1_500, maxMs: 1_500 },
      },
    });
    const publisher = app.get(StreamPublisher);
    await publisher.publish('orders', { message: 'flaky' });
    await publisher.publish('orders', { message: 'behind' });
    await waitFor(
      () => probe.of('first').some((c) => (c.payload as OrderDto).message === 'behind'),
      'the next message',
    );
    const flakyAttempts = probe
      .of('first')
      .filter((c) => (c.payload as OrderDto).message === 'flaky');
    expect(flakyAttempts).toHaveLength(1);
    await waitFor(
      () =>
        probe.of('first').filter((c) => (c.payload as OrderDto).message === 'flaky').length === 2,
      'the retry',
      5_000,
    );
  });

  it('dead-letters at once, without retries, when the payload fails the DTO or the handler says so', async () => {
    const probe = new Probe();
    probe.behaviour = (call) => {
      if ((call.payload as OrderDto).message === 'refuse')
        throw new NonRetryableError('will never work');
    };
    const app = await start(probe, [FirstHandler]);
    await client.xadd('orders', '*', 'message', '', 'priority', 'urgent');
    await client.xadd('orders', '*', 'payload', '{not json');
    await app.get(StreamPublisher).publish('orders', { message: 'refuse' });
    await app.get(StreamPublisher).publish('orders', { message: 'fine' });

    await waitFor(async () => (await client.xlen('orders:dlq')) === 3, 'three dead letters');
    // Handlers run concurrently, so dead letters may arrive in any order: sort by original id.
    const reasons = (await client.xrange('orders:dlq', '-', '+'))
      .map(([, f]) => toRecord(f))
      .sort((a, b) => compareStreamIds(a['dlq-original-id'], b['dlq-original-id']));
    expect(reasons.map((r) => r['dlq-attempts'])).toEqual(['1', '1', '1']);
    expect(reasons[0]['dlq-error']).toMatch(/message.*(empty|should not be empty)/);
    expect(reasons[0]['dlq-error']).toMatch(/priority/);
    expect(reasons[1]['dlq-error']).toMatch(/not valid JSON/);
    expect(reasons[2]['dlq-error']).toMatch(/will never work/);
    // Only the two entries that passed the DTO reached the handler, each once.
    expect(probe.of('first').map((c) => (c.payload as OrderDto).message)).toEqual([
      'refuse',
      'fine',
    ]);
    await waitFor(async () => (await pendingCount('orders', 'first')) === 0, 'nothing pending');
  });

  it('keeps a scheduled retry in Redis: another instance performs it after the first one stopped', async () => {
    const first = new Probe();
    first.behaviour = () => {
      throw new Error('fails here');
    };
    const app = await start(first, [FirstHandler], {
      handlerDefaults: { blockMs: 100, maxAttempts: 3, backoff: { baseMs: 1_500, maxMs: 1_500 } },
    });
    await app.get(StreamPublisher).publish('orders', { message: 'retry me elsewhere' });
    await waitFor(
      async () => (await client.zcard('orders:retries:first')) === 1,
      'the scheduled retry',
    );
    await bed.close(app);

    const second = new Probe();
    await start(second, [FirstHandler], { consumerName: 'c2' });
    const [call] = await waitFor(
      () => (second.of('first').length > 0 ? second.of('first') : null),
      'the retry on c2',
    );
    expect(call.message.attempt).toBe(2);
    expect(call.message.consumer).toBe('c2');
    await waitFor(async () => (await pendingCount('orders', 'first')) === 0, 'the acknowledgement');
  });
});
