import type { Redis } from 'ioredis';
import { StreamPublisher } from '../src/index.js';
import { Probe, SecondHandler } from './support/stream-probe.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { waitFor } from './support/wait-for.js';

/** `prefetch`: entries read ahead while every slot is busy. */
describe('RedisStreamsModule read-ahead (prefetch)', () => {
  const bed = streamsTestbed();
  let client: Redis;

  const start = bed.probedStart([SecondHandler], {
    claimMinIdleMs: 60_000,
    handlerDefaults: { blockMs: 100, concurrency: 2, batchSize: 4, prefetch: 4 },
  });

  /** Resolves the promise a handler call returned, so tests decide when handlers finish. */
  const gate = (probe: Probe): { open: () => void; running: () => number; peak: () => number } => {
    let release: () => void = () => undefined;
    let opened = new Promise<void>((resolve) => (release = resolve));
    let running = 0;
    let peak = 0;
    probe.behaviour = async () => {
      running += 1;
      peak = Math.max(peak, running);
      await opened;
      running -= 1;
    };
    return {
      open: () => {
        release();
        opened = Promise.resolve();
      },
      running: () => running,
      peak: () => peak,
    };
  };

  const pendingOf = async (): Promise<Map<string, number>> => {
    const summary = (await client.xpending('orders', 'second')) as [
      number,
      unknown,
      unknown,
      Array<[string, string]> | null,
    ];
    return new Map((summary[3] ?? []).map(([consumer, count]) => [consumer, Number(count)]));
  };

  beforeAll(() => {
    client = bed.client;
  });

  it('reads ahead up to prefetch, never runs more than concurrency, and handles each entry once', async () => {
    const probe = new Probe();
    const handlers = gate(probe);
    const app = await start(probe, 'c1');
    const publisher = app.get(StreamPublisher);
    await publisher.publishMany(
      'orders',
      Array.from({ length: 20 }, (_, i) => ({ payload: { message: `m${i}` } })),
    );

    // Two running, four more read ahead: six pending under this consumer, none beyond.
    await waitFor(async () => (await pendingOf()).get('c1') === 6, 'the read-ahead');
    await new Promise((r) => setTimeout(r, 300));
    expect((await pendingOf()).get('c1')).toBe(6);
    expect(handlers.running()).toBe(2);

    handlers.open();
    await waitFor(() => probe.calls.length === 20, 'every entry');
    await waitFor(async () => (await pendingOf()).size === 0, 'the acknowledgements');
    expect(handlers.peak()).toBe(2);
    const messages = probe.calls.map((c) => (c.payload as { message: string }).message);
    expect(new Set(messages).size).toBe(20);
  });

  it('keeps the lease of entries waiting in the read-ahead, so no other consumer takes them', async () => {
    const probe = new Probe();
    // Each call takes 150 ms with one slot: the last of six waits about 750 ms, well over the
    // 300 ms after which an idle entry counts as abandoned.
    probe.behaviour = () => new Promise((r) => setTimeout(r, 150));
    const overrides = {
      claimMinIdleMs: 300,
      handlerDefaults: { blockMs: 100, concurrency: 1, batchSize: 6, prefetch: 6 },
    };
    const first = await start(probe, 'c1', overrides);
    await first.get(StreamPublisher).publishMany(
      'orders',
      Array.from({ length: 6 }, (_, i) => ({ payload: { message: `${i}` } })),
    );
    await waitFor(async () => (await pendingOf()).get('c1') === 6, 'the read-ahead');
    const other = new Probe();
    await start(other, 'c2', overrides);

    await waitFor(() => probe.calls.length === 6, 'every entry', 5_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(other.calls).toEqual([]);
    expect(probe.calls.map((c) => c.message.attempt)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('hands read-ahead entries back on shutdown without spending an attempt, and another consumer handles them', async () => {
    const probe = new Probe();
    const handlers = gate(probe);
    const overrides = { claimMinIdleMs: 500, shutdownTimeoutMs: 200 };
    const first = await start(probe, 'c1', overrides);
    await first.get(StreamPublisher).publishMany(
      'orders',
      Array.from({ length: 6 }, (_, i) => ({ payload: { message: `${i}` } })),
    );
    await waitFor(async () => (await pendingOf()).get('c1') === 6, 'the read-ahead');

    await bed.close(first);
    handlers.open();
    // The two that were running outlived the shutdown timeout; none of the four read ahead started.
    expect(probe.calls).toHaveLength(2);
    expect((await pendingOf()).get('c1')).toBe(6);
    // The four went back as retries due now, with no attempt spent.
    const handedBack = await client.zrange('orders:retries:second', '0', '-1');
    expect(handedBack).toHaveLength(4);

    const other = new Probe();
    await start(other, 'c2', overrides);
    await waitFor(() => other.calls.length === 6, 'the other consumer to take them over', 10_000);
    const attemptOf = (call: { payload: unknown; message: { attempt: number } }): string =>
      `${(call.payload as { message: string }).message}:${call.message.attempt}`;
    const running = probe.calls.map((c) => (c.payload as { message: string }).message);
    // The two that started spent their attempt; the four that never ran are still on their first.
    expect(other.calls.map(attemptOf).sort()).toEqual(
      ['0', '1', '2', '3', '4', '5'].map((m) => `${m}:${running.includes(m) ? 2 : 1}`).sort(),
    );
    await waitFor(async () => (await pendingOf()).size === 0, 'the acknowledgements');
    expect(await client.hlen('orders:attempts:second')).toBe(0);
  });

  it('publishes, reads and acknowledges without ioredis Pipeline objects (see write-together.ts)', async () => {
    // Every Pipeline, including those auto-pipelining makes, ends in exec(): count the calls.
    const pipelineProto = Object.getPrototypeOf(client.pipeline()) as { exec: () => unknown };
    const exec = pipelineProto.exec;
    let pipelines = 0;
    pipelineProto.exec = function (this: unknown, ...args: unknown[]) {
      pipelines += 1;
      return (exec as (...a: unknown[]) => unknown).apply(this, args);
    };
    try {
      const probe = new Probe();
      const app = await start(probe, 'c1', {
        handlerDefaults: { blockMs: 100, concurrency: 4, batchSize: 10, prefetch: 10 },
      });
      const publisher = app.get(StreamPublisher);
      await publisher.publishMany(
        'orders',
        Array.from({ length: 100 }, (_, i) => ({ payload: { message: `batch ${i}` } })),
      );
      await Promise.all(
        Array.from({ length: 30 }, (_, i) => publisher.publish('orders', { message: `one ${i}` })),
      );
      await waitFor(() => probe.calls.length === 130, 'every entry');
      await waitFor(async () => (await pendingOf()).size === 0, 'the acknowledgements');
      expect(pipelines).toBe(0);
    } finally {
      pipelineProto.exec = exec;
    }
  });

  it('refuses a negative or fractional prefetch at startup', async () => {
    await expect(start(new Probe(), 'c1', { handlerDefaults: { prefetch: -1 } })).rejects.toThrow(
      /prefetch must be an integer of at least 0, not -1/,
    );
  });
});
