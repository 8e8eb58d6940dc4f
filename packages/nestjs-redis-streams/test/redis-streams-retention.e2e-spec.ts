import { Inject, Injectable, type INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import {
  StreamHandler,
  StreamPublisher,
  StreamRetention,
  type RedisStreamsModuleOptions,
  type RetentionRule,
  type StreamMessage,
} from '../src/index.js';
import { PROBE, Probe } from './support/stream-probe.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { waitFor } from './support/wait-for.js';

const HOUR_MS = 3_600_000;

@Injectable()
class OrderedOrders {
  constructor(@Inject(PROBE) private readonly probe: Probe) {}

  @StreamHandler('orders', { group: 'ordered', ordered: true })
  handle(payload: unknown, message: StreamMessage): unknown {
    return this.probe.record('ordered', payload, message);
  }
}

/** Bytes Redis has written to all its clients so far. */
async function netOutputBytes(client: Redis): Promise<number> {
  const stats = await client.info('stats');
  return Number(/^total_net_output_bytes:(\d+)/m.exec(stats)?.[1]);
}

/** Appends `count` entries of about `bytes` bytes each, in one server-side loop. */
async function fill(client: Redis, stream: string, count: number, bytes = 100): Promise<void> {
  await client.eval(
    "for i = 1, tonumber(ARGV[1]) do redis.call('XADD', KEYS[1], '*', 'payload', ARGV[2]) end",
    1,
    stream,
    count,
    'x'.repeat(bytes),
  );
}

async function ids(client: Redis, stream: string): Promise<string[]> {
  return (await client.xrange(stream, '-', '+')).map(([id]) => id);
}

/** Retention on one Redis: what it trims, what it must keep, and what it costs Redis. */
describe('StreamRetention', () => {
  const bed = streamsTestbed();
  let client: Redis;

  beforeAll(() => {
    client = bed.client;
  });

  /** An app that runs no consumers and whose retention timer does not fire during a test. */
  const start = (
    retention: RetentionRule[],
    options: Partial<RedisStreamsModuleOptions> = {},
  ): Promise<INestApplication> =>
    bed.start(
      {
        consumerName: 'retention',
        consumersEnabled: false,
        retention,
        retentionIntervalMs: 600_000,
        ...options,
      },
      [],
    );

  it('reads only the surplus to find the cap: the cost follows what is trimmed, not the cap', async () => {
    const cap = 19_990;
    await client.xgroup('CREATE', 'big', 'done', '$', 'MKSTREAM');
    await fill(client, 'big', cap + 10);
    // The group received and acknowledged everything.
    await client.xgroup('SETID', 'big', 'done', '$');
    const rule = { stream: 'big', maxLen: cap };
    const retention = (await start([rule])).get(StreamRetention);

    const before = await netOutputBytes(client);
    const state = await retention.trim(rule);
    const sent = (await netOutputBytes(client)) - before;

    expect(state).toMatchObject({ length: cap, trimmed: 10, overCap: false, heldBy: [] });
    expect(await client.xlen('big')).toBe(cap);
    // Reading the kept entries, as before, sent about 2.5 MB (cap x ~125 bytes). Now: the reply
    // of a few small commands and of the INFO above.
    expect(sent).toBeLessThan(30_000);
  }, 60_000);

  it('trims a large surplus in short steps, to the cap exactly', async () => {
    await fill(client, 'backlog', 2_600, 10);
    const rule = { stream: 'backlog', maxLen: 100 };
    const retention = (await start([rule])).get(StreamRetention);
    const all = await ids(client, 'backlog');

    const state = await retention.trim(rule);
    expect(state).toMatchObject({ length: 100, trimmed: 2_500, overCap: false });
    expect(await ids(client, 'backlog')).toEqual(all.slice(2_500));
  });

  it('does not trim past the cap when two instances trim at the same time', async () => {
    await fill(client, 'shared', 5_000, 10);
    const rule = { stream: 'shared', maxLen: 1_000 };
    const a = (await start([rule])).get(StreamRetention);
    const b = (await start([rule])).get(StreamRetention);

    const [first, second] = await Promise.all([a.trim(rule), b.trim(rule)]);
    expect(first.trimmed + second.trimmed).toBe(4_000);
    expect(await client.xlen('shared')).toBe(1_000);
  });

  it('trims by age only what every group received and acknowledged, and says who holds the rest', async () => {
    const old = Date.now() - 2 * HOUR_MS;
    const oldIds: string[] = [];
    for (let i = 0; i < 6; i++) oldIds.push((await client.xadd('aged', `${old + i}-0`, 'n', i))!);
    const newIds: string[] = [];
    for (let i = 0; i < 3; i++) newIds.push((await client.xadd('aged', '*', 'n', 6 + i))!);
    await client.xgroup('CREATE', 'aged', 'g', '0');
    // "g" received four old entries and acknowledged the first two.
    await client.xreadgroup('GROUP', 'g', 'c', 'COUNT', 4, 'STREAMS', 'aged', '>');
    await client.xack('aged', 'g', oldIds[0], oldIds[1]);
    const rule = { stream: 'aged', maxAgeMs: HOUR_MS };
    const retention = (await start([rule])).get(StreamRetention);

    const held = await retention.trim(rule);
    expect(held).toMatchObject({ length: 7, trimmed: 2, overCap: true, heldBy: ['g'] });
    expect(held.alarm).toContain('past its age limit of 3600000 ms: held by g');
    expect(await ids(client, 'aged')).toEqual([...oldIds.slice(2), ...newIds]);

    // Acknowledged, but two old entries were never delivered to "g": they stay too.
    await client.xack('aged', 'g', oldIds[2], oldIds[3]);
    await retention.trim(rule);
    expect(await ids(client, 'aged')).toEqual([...oldIds.slice(4), ...newIds]);

    await client.xreadgroup('GROUP', 'g', 'c', 'COUNT', 100, 'STREAMS', 'aged', '>');
    await client.xack('aged', 'g', ...oldIds, ...newIds);
    const done = await retention.trim(rule);
    expect(done).toMatchObject({ length: 3, overCap: false, heldBy: [] });
    expect(done.alarm).toBeUndefined();
    expect(await ids(client, 'aged')).toEqual(newIds);
  });

  it('keeps an entry that another group still has pending, whatever the cap', async () => {
    await client.xgroup('CREATE', 'jobs', 'fast', '$', 'MKSTREAM');
    await client.xgroup('CREATE', 'jobs', 'slow', '$');
    const all: string[] = [];
    for (let i = 0; i < 20; i++) all.push((await client.xadd('jobs', '*', 'n', i))!);
    await client.xreadgroup('GROUP', 'fast', 'f', 'COUNT', 100, 'STREAMS', 'jobs', '>');
    await client.xack('jobs', 'fast', ...all);
    // "slow" read everything and acknowledged all but one entry in the middle.
    await client.xreadgroup('GROUP', 'slow', 's', 'COUNT', 100, 'STREAMS', 'jobs', '>');
    await client.xack('jobs', 'slow', ...all.filter((_, i) => i !== 7));
    const rule = { stream: 'jobs', maxLen: 1, maxAgeMs: 1 };
    const retention = (await start([rule])).get(StreamRetention);

    const state = await retention.trim(rule);
    expect(state).toMatchObject({ length: 13, trimmed: 7, overCap: true, heldBy: ['slow'] });
    expect(await ids(client, 'jobs')).toEqual(all.slice(7));
  });

  it('refuses a count cap on a dead-letter stream: dead letters are kept', async () => {
    await expect(start([{ stream: 'orders:dlq', maxLen: 10 }])).rejects.toThrow(
      /"orders:dlq": a dead-letter stream has no count cap/,
    );
  });

  it('watches a stream without limits: its length, its bytes and an alarm when it holds too many', async () => {
    await fill(client, 'orders:dlq', 12, 50);
    const rule = { stream: 'orders:dlq', maxAgeMs: HOUR_MS, alarmLength: 10 };
    const retention = (await start([rule])).get(StreamRetention);

    const state = await retention.trim(rule);
    expect(state).toMatchObject({ length: 12, trimmed: 0, overCap: false });
    expect(state.bytes).toBeGreaterThan(12 * 50);
    expect(state.alarm).toMatch(
      /^orders:dlq holds 12 dead letters \(alarm at 10, about \d+ bytes\): replay or delete them$/,
    );
    expect(await client.xlen('orders:dlq')).toBe(12);
  });

  it('applies the same rules to the partitions of an ordered stream: pending and unread entries stay', async () => {
    const probe = new Probe();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    probe.behaviour = () => gate;
    const partitions = ['orders:{0}', 'orders:{1}'];
    const app = await bed.start(
      {
        consumerName: 'ordered-1',
        partitions: { orders: 2 },
        partitionLeaseMs: 600,
        retention: partitions.map((stream) => ({ stream, maxLen: 1 })),
        retentionIntervalMs: 100,
        handlerDefaults: { blockMs: 100 },
      },
      [{ provide: PROBE, useValue: probe }, OrderedOrders],
    );
    const keys = Array.from({ length: 12 }, (_, i) => `source-${i}`);
    await app.get(StreamPublisher).publishMany(
      'orders',
      keys.map((key, n) => ({ payload: { n }, partitionKey: key })),
    );
    const lengths = await Promise.all(partitions.map((stream) => client.xlen(stream)));
    expect(lengths.every((length) => length >= 2)).toBe(true);

    // Each partition's first entry is pending on the handler, the others are not yet delivered.
    await waitFor(() => probe.calls.length === 2, 'the first entry of each partition');
    const retention = app.get(StreamRetention);
    const since = Date.now();
    const states = await waitFor(() => {
      const report = retention.report();
      return report.length === 2 && report.every((s) => Date.parse(s.checkedAt) > since + 300)
        ? report
        : undefined;
    }, 'retention runs while the handler holds the entries');
    for (const state of states) {
      expect(state).toMatchObject({ overCap: true, heldBy: ['ordered'], trimmed: 0 });
    }
    expect(await Promise.all(partitions.map((stream) => client.xlen(stream)))).toEqual(lengths);

    release();
    await waitFor(() => probe.calls.length === 12, 'every entry handled');
    await waitFor(
      async () =>
        (await Promise.all(partitions.map((stream) => client.xlen(stream)))).every(
          (length) => length === 1,
        ),
      'each partition trimmed to its cap once every entry was acknowledged',
    );
    for (const stream of partitions) {
      expect(Number(((await client.xpending(stream, 'ordered')) as [number])[0])).toBe(0);
    }
  });
});
