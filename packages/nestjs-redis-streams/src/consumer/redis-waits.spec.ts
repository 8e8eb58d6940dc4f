import type { Logger } from '@nestjs/common';
import { RetryPolicy } from './retry-policy.js';
import { StreamEvents } from '../stream-events.js';
import type { ConsumerContext } from './consumer-definition.js';
import { RedisWaits } from './redis-waits.js';

const oom = new Error("OOM command not allowed when used memory > 'maxmemory'.");

describe('RedisWaits', () => {
  const setUp = (): {
    waits: RedisWaits;
    stop: AbortController;
    lines: string[];
    failures: () => number;
  } => {
    // Only the levels RedisWaits uses; each line kept as `level message`.
    const lines: string[] = [];
    const logger = {
      log: (message: string) => lines.push(`log ${message}`),
      warn: (message: string) => lines.push(`warn ${message}`),
    } as unknown as Logger;
    const events = new StreamEvents();
    let failures = 0;
    events.subscribe({ infrastructureFailed: () => (failures += 1) });
    const context: ConsumerContext = {
      definition: {
        stream: 's',
        group: 'g',
        flow: { key: 's:flow:g' },
        startFrom: 'beginning',
        batchSize: 1,
        concurrency: 1,
        prefetch: 0,
        blockMs: 100,
        policy: new RetryPolicy(1, { baseMs: 1, maxMs: 1 }),
        handle: () => undefined,
      },
      runtime: {
        consumerName: 'c1',
        claimMinIdleMs: 1_000,
        maxValueBytes: 1_000,
        staleConsumerIdleMs: 1_000,
      },
      redis: () => {
        throw new Error('RedisWaits needs no Redis');
      },
      events,
      logger,
    };
    const stop = new AbortController();
    return { waits: new RedisWaits(context, stop.signal), stop, lines, failures: () => failures };
  };

  it('waits before the entry runs again, counts the failure, and logs the spell once', async () => {
    const { waits, lines, failures } = setUp();
    const started = Date.now();
    // Two entries fail together: one spell.
    const [first, second] = await Promise.all([
      waits.failed('1-0', 'e-1', 1, oom, true),
      waits.failed('2-0', 'e-2', 2, oom, true),
    ]);
    expect([first, second]).toEqual([true, true]);
    // The first failure of a spell waits half to all of DEFAULTS.redisWaitBaseMs (100 ms).
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(failures()).toBe(2);
    expect(lines).toEqual([
      `warn Redis failed a call for an entry (stream=s group=g entry=1-0 eventId=e-1 attempt=1): Error: ${oom.message}; entries wait for Redis, pending, without spending attempts`,
    ]);
    expect(waits.state()).toMatchObject({ entries: 2, failures: 2, error: oom.message });
  });

  it('logs the end of the spell once the last waiting entry is done', async () => {
    const { waits, lines } = setUp();
    await Promise.all([
      waits.failed('1-0', 'e-1', 1, oom, true),
      waits.failed('2-0', 'e-2', 1, oom, true),
    ]);
    waits.done();
    expect(lines.filter((line) => line.startsWith('log'))).toEqual([]);
    waits.done();
    expect(lines.filter((line) => line.startsWith('log'))).toEqual([
      'log Redis serves the calls for entries again (stream=s group=g)',
    ]);
    expect(waits.state()).toBeUndefined();
  });

  it('ends a wait at once, answering false, when the consumer stops', async () => {
    const { waits, stop } = setUp();
    // Long into a spell, the wait would be seconds.
    for (let i = 0; i < 10; i++) waits.failed('1-0', 'e-1', 1, oom, i === 0).catch(() => undefined);
    stop.abort();
    const started = Date.now();
    expect(await waits.failed('1-0', 'e-1', 1, oom, false)).toBe(false);
    expect(Date.now() - started).toBeLessThan(100);
  });

  it('wakes a wait under way when the consumer stops', async () => {
    const { waits, stop } = setUp();
    for (let i = 0; i < 10; i++) void waits.failed('1-0', 'e-1', 1, oom, i === 0);
    const started = Date.now();
    const waiting = waits.failed('1-0', 'e-1', 1, oom, false);
    setTimeout(() => stop.abort(), 20);
    expect(await waiting).toBe(false);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
