import { Inject, Injectable, type INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import {
  RedisStreamsStatus,
  StreamEvents,
  StreamHandler,
  type StreamMessage,
} from '../src/index.js';
import { PROBE, Probe } from './support/stream-probe.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { sleep, waitFor } from './support/wait-for.js';

@Injectable()
class IdempotentHandler {
  constructor(@Inject(PROBE) private readonly probe: Probe) {}

  @StreamHandler('alerts', { group: 'webhook', idempotent: true, concurrency: 16 })
  handle(payload: unknown, message: StreamMessage): unknown {
    return this.probe.record('webhook', payload, message);
  }
}

/** Writes to Redis itself, as the alerts recorder does, with its own client. */
@Injectable()
class RecordingHandler {
  constructor(@Inject(PROBE) private readonly probe: Probe) {}

  @StreamHandler('alerts', { group: 'recorder', concurrency: 16 })
  handle(payload: unknown, message: StreamMessage): unknown {
    return this.probe.record('recorder', payload, message);
  }
}

/**
 * Redis full (maxmemory below used memory, noeviction): commands that may grow memory fail with
 * OOM while acknowledgements and dead-lettering still work. Nothing may be dead-lettered for it.
 */
describe('RedisStreamsModule with Redis out of memory', () => {
  const bed = streamsTestbed();
  let client: Redis;

  beforeAll(() => {
    client = bed.client;
  });

  const start = async (
    probe: Probe,
    handler: unknown,
    group: string,
    maxAttempts: number,
  ): Promise<INestApplication> => {
    const app = await bed.start(
      {
        consumerName: 'c1',
        claimMinIdleMs: 1_000,
        handlerDefaults: { blockMs: 100, maxAttempts, backoff: { baseMs: 50, maxMs: 100 } },
      },
      [{ provide: PROBE, useValue: probe }, handler as never],
    );
    // Creating a group is refused while Redis is full: let the consumer create it first.
    await waitFor(
      async () => ((await client.xinfo('GROUPS', 'alerts').catch(() => [])) as unknown[]).length,
      'the consumer group',
    );
    return app;
  };

  /** Makes every command that may grow memory fail, with a wide margin (connections come and go). */
  const fillRedis = async (): Promise<void> => {
    await client.config('SET', 'maxmemory-policy', 'noeviction');
    const info = await client.info('memory');
    const used = Number(/used_memory:(\d+)/.exec(info)![1]);
    await client.config('SET', 'maxmemory', String(Math.floor(used / 2)));
    await expect(client.set('probe-oom', 'x')).rejects.toThrow(/^OOM/);
  };

  const makeRoom = (): Promise<unknown> => client.config('SET', 'maxmemory', '0');

  const pendingCount = async (group: string): Promise<number> =>
    Number(((await client.xpending('alerts', group)) as [number])[0]);

  /** Counts the infrastructure failures the module reports. */
  const countInfrastructureFailures = (app: INestApplication): (() => number) => {
    let count = 0;
    app.get(StreamEvents).subscribe({ infrastructureFailed: () => (count += 1) });
    return () => count;
  };

  it('keeps pending alerts of an idempotent handler while Redis is full, and handles each once when it has room', async () => {
    const probe = new Probe();
    const app = await start(probe, IdempotentHandler, 'webhook', 2);
    const failures = countInfrastructureFailures(app);
    // Ten alerts delivered to a consumer that then died, in one step so that c1's own read cannot
    // take them first; c1 reclaims them once they are idle for claimMinIdleMs.
    const multi = client.multi();
    for (let i = 0; i < 10; i++) {
      multi.xadd('alerts', '*', 'eventId', `evt-${i}`, 'payload', JSON.stringify({ n: i }));
    }
    multi.xreadgroup('GROUP', 'webhook', 'dead', 'COUNT', 10, 'STREAMS', 'alerts', '>');
    await multi.exec();
    try {
      await fillRedis();
      // Reclaimed after 1 s; claiming each eventId then fails with OOM. With maxAttempts 2, the old
      // code dead-lettered all ten on that first reclaim; wait well past several backoffs.
      await sleep(5_000);
      expect(await client.xlen('alerts:dlq')).toBe(0);
      expect(probe.calls).toEqual([]);
      const reclaimed = await client.xpending('alerts', 'webhook', '-', '+', 10, 'c1');
      expect(reclaimed).toHaveLength(10);
      // The reclaim counted the dead consumer's delivery, and nothing more.
      const attempts = await client.hvals(`alerts:attempts:webhook`);
      expect(attempts.every((spent) => spent === '1')).toBe(true);

      const [state] = app.get(RedisStreamsStatus).consumers();
      expect(state.waitingForRedis).toMatchObject({ entries: 10 });
      expect(state.waitingForRedis?.error).toMatch(/OOM/);
      expect(failures()).toBeGreaterThanOrEqual(10);
      // Backed off, not spinning: a few tries per entry over those seconds, not hundreds.
      expect(failures()).toBeLessThan(10 * 20);
    } finally {
      await makeRoom();
    }

    await waitFor(
      () => probe.calls.length === 10,
      'every alert handled once Redis has room',
      15_000,
    );
    await waitFor(async () => (await pendingCount('webhook')) === 0, 'the acknowledgements');
    await sleep(300);
    const eventIds = probe.calls.map((call) => call.message.eventId).sort();
    expect(eventIds).toEqual(Array.from({ length: 10 }, (_, i) => `evt-${i}`).sort());
    expect(probe.calls.every((call) => call.message.attempt === 2)).toBe(true);
    expect(await client.xlen('alerts:dlq')).toBe(0);
    expect(app.get(RedisStreamsStatus).consumers()[0].waitingForRedis).toBeUndefined();
  }, 40_000);

  it('does not dead-letter an entry whose handler failed on its own Redis write being refused (OOM)', async () => {
    const probe = new Probe();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The handler's own write, as the alerts recorder's: refused while Redis is full.
    probe.behaviour = async (call) => {
      await gate;
      await client.set(`record:${call.message.eventId}`, 'received');
    };
    // One attempt: the old code dead-lettered at the first failure.
    const app = await start(probe, RecordingHandler, 'recorder', 1);
    const failures = countInfrastructureFailures(app);
    for (let i = 0; i < 3; i++) {
      await client.xadd('alerts', '*', 'eventId', `evt-${i}`, 'payload', JSON.stringify({ n: i }));
    }
    await waitFor(() => probe.calls.length === 3, 'the three handlers to start');
    try {
      await fillRedis();
      release();
      await sleep(3_000);
      expect(await client.xlen('alerts:dlq')).toBe(0);
      expect(await pendingCount('recorder')).toBe(3);
      expect(await client.hlen('alerts:attempts:recorder')).toBe(0);
      expect(failures()).toBeGreaterThanOrEqual(3);
      const [state] = app.get(RedisStreamsStatus).consumers();
      expect(state.waitingForRedis?.error).toMatch(/OOM/);
    } finally {
      await makeRoom();
    }
    await waitFor(
      async () => (await client.keys('record:*')).length === 3,
      'every record written once Redis has room',
      15_000,
    );
    await waitFor(async () => (await pendingCount('recorder')) === 0, 'the acknowledgements');
    expect(await client.xlen('alerts:dlq')).toBe(0);
    // Every call ran as the first attempt: none was spent on Redis being full.
    expect(probe.calls.every((call) => call.message.attempt === 1)).toBe(true);
  }, 40_000);
});
