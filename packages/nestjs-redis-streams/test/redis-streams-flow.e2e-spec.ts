import { Inject, Injectable, type INestApplication, type Type } from '@nestjs/common';
import type { Redis } from 'ioredis';
import {
  DLQ_FIELD,
  FlowControl,
  RetryLaterError,
  StreamHandler,
  StreamPublisher,
  type StreamHandlerOptions,
  type StreamMessage,
} from '../src/index.js';
import { PROBE, Probe, toRecord, type Call } from './support/stream-probe.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { sleep, waitFor } from './support/wait-for.js';

/** A handler of `stream` (its group has the same name) that records to the probe. */
function probedHandler(stream: string, options: StreamHandlerOptions): Type {
  @Injectable()
  class ProbedHandler {
    constructor(@Inject(PROBE) private readonly probe: Probe) {}

    @StreamHandler(stream, { group: stream, ...options })
    handle(payload: unknown, message: StreamMessage): unknown {
      return this.probe.record(stream, payload, message);
    }
  }
  return ProbedHandler;
}

const TIMEOUT_MS = 200;
const TimingOut = probedHandler('slow', {
  timeoutMs: TIMEOUT_MS,
  maxAttempts: 3,
  concurrency: 1,
  backoff: { baseMs: 50, maxMs: 100 },
});
const Busy = probedHandler('busy', { concurrency: 2 });
const RateLimited = probedHandler('limited', {
  concurrency: 4,
  rateLimit: { max: 5, perMs: 1_000 },
});
const MAX_AGE_MS = 1_500;
const Aging = probedHandler('aging', {
  maxAgeMs: MAX_AGE_MS,
  maxAttempts: 100,
  backoff: { baseMs: 100, maxMs: 300 },
});
const MAX_PROBE_INTERVAL_MS = 2_000;
// Retries wait 300 ms or more: the first three failures are of three different fresh entries.
const Breaking = probedHandler('breaker', {
  concurrency: 1,
  maxAttempts: 2,
  backoff: { baseMs: 600, maxMs: 1_200 },
  circuitBreaker: { failures: 3, maxProbeIntervalMs: MAX_PROBE_INTERVAL_MS },
});
const Pausable = probedHandler('pausable', {});

/** The time (ms) in a stream entry id: when Redis appended it. */
const idTime = (id: string): number => Number(id.split('-')[0]);

/**
 * Flow control (issue 15): handler timeouts, busy signals that pause the whole group, rate limits
 * across instances, delivery deadlines, circuit breaking and pausing by hand.
 */
describe('RedisStreamsModule flow control', () => {
  const bed = streamsTestbed();
  let client: Redis;

  beforeAll(() => {
    client = bed.client;
  });

  const start = (probe: Probe, consumerName: string, handler: Type): Promise<INestApplication> =>
    bed.start(
      {
        consumerName,
        claimMinIdleMs: 60_000,
        shutdownTimeoutMs: 1_000,
        handlerDefaults: { blockMs: 100 },
      },
      [{ provide: PROBE, useValue: probe }, handler],
    );

  const deadLetters = async (stream: string): Promise<Array<Record<string, string>>> =>
    (await client.xrange(`${stream}:dlq`, '-', '+')).map(([, flat]) => toRecord(flat));

  const pendingCount = async (stream: string): Promise<number> =>
    Number(((await client.xpending(stream, stream)) as [number])[0]);

  it('aborts a handler that never settles at timeoutMs, frees its slot, retries and dead-letters it', async () => {
    const probe = new Probe();
    const abortedAfter = new Map<Call, number>();
    probe.behaviour = (call) => {
      if (call.message.eventId !== 'stuck') return undefined;
      call.message.signal.addEventListener('abort', () =>
        abortedAfter.set(call, Date.now() - call.at),
      );
      return new Promise(() => undefined);
    };
    const app = await start(probe, 'c1', TimingOut);
    const publisher = app.get(StreamPublisher);
    await publisher.publish('slow', { n: 1 }, { eventId: 'stuck' });
    await waitFor(() => probe.calls.length === 1, 'the stuck call');
    await publisher.publish('slow', { n: 2 }, { eventId: 'quick' });

    await waitFor(async () => (await deadLetters('slow')).length === 1, 'the dead letter', 10_000);
    const stuck = probe.calls.filter((call) => call.message.eventId === 'stuck');
    const quick = probe.calls.filter((call) => call.message.eventId === 'quick');
    expect(stuck.map((call) => call.message.attempt)).toEqual([1, 2, 3]);
    for (const call of stuck) {
      expect(call.message.signal.aborted).toBe(true);
      expect(abortedAfter.get(call)).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
      expect(abortedAfter.get(call)).toBeLessThan(TIMEOUT_MS + 800);
    }
    // One slot, and the stuck calls never settle: the other entry ran in the slot the timeout freed.
    expect(quick).toHaveLength(1);
    expect(quick[0].at - stuck[0].at).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    const [letter] = await deadLetters('slow');
    expect(letter[DLQ_FIELD.attempts]).toBe('3');
    expect(letter[DLQ_FIELD.error]).toMatch(/time(d)?[ -]?out|200 ms/i);
    await waitFor(async () => (await pendingCount('slow')) === 0, 'nothing left pending');
  }, 20_000);

  it('pauses the whole group on a RetryLaterError with a delay, on every consumer, and spends no attempt', async () => {
    const delayMs = 1_000;
    const probe = new Probe();
    let busy = true;
    probe.behaviour = (call) => {
      if (call.message.eventId === 'first' && busy) {
        busy = false;
        throw new RetryLaterError('the destination is busy', delayMs);
      }
    };
    const app = await start(probe, 'c1', Busy);
    await start(probe, 'c2', Busy);
    const publisher = app.get(StreamPublisher);
    await publisher.publish('busy', { n: 0 }, { eventId: 'first' });
    await waitFor(() => probe.calls.length === 1, 'the busy call');
    const busyAt = probe.calls[0].at;
    // Time for the busy signal to reach Redis; both consumers would otherwise read these at once.
    await sleep(100);
    await publisher.publishMany(
      'busy',
      Array.from({ length: 6 }, (_, i) => ({ payload: { n: i + 1 }, eventId: `then-${i}` })),
    );

    await waitFor(() => probe.calls.length >= 8, 'every entry', delayMs + 5_000);
    const later = probe.calls.slice(1);
    expect(Math.min(...later.map((call) => call.at)) - busyAt).toBeGreaterThanOrEqual(
      delayMs - 100,
    );
    const retry = later.filter((call) => call.message.eventId === 'first');
    expect(retry.map((call) => call.message.attempt)).toEqual([1]);
    expect(new Set(later.map((call) => call.message.eventId)).size).toBe(7);
    expect(await deadLetters('busy')).toEqual([]);
  }, 20_000);

  it('keeps a rateLimit across two consumers of a group', async () => {
    const probe = new Probe();
    const app = await start(probe, 'c1', RateLimited);
    await start(probe, 'c2', RateLimited);
    await app.get(StreamPublisher).publishMany(
      'limited',
      Array.from({ length: 20 }, (_, i) => ({ payload: { n: i } })),
    );

    await waitFor(() => probe.calls.length === 20, 'every entry', 10_000);
    const times = probe.calls.map((call) => call.at).sort((a, b) => a - b);
    const spanMs = times[19] - times[0];
    // A full bucket of 5, then 5 a second: the 20th call comes about 3 s after the first.
    expect(19 / (spanMs / 1_000)).toBeLessThanOrEqual(6.5);
    expect(spanMs).toBeLessThan(6_000);
    for (const at of times) {
      expect(times.filter((t) => t >= at && t < at + 1_000).length).toBeLessThanOrEqual(10);
    }
    expect(new Set(probe.calls.map((call) => call.message.id)).size).toBe(20);
  }, 20_000);

  it('dead-letters an entry that keeps failing once it is older than maxAgeMs, naming that limit', async () => {
    const probe = new Probe();
    probe.behaviour = () => {
      throw new Error('always fails');
    };
    const app = await start(probe, 'c1', Aging);
    const { id } = await app.get(StreamPublisher).publish('aging', { n: 1 });

    await waitFor(async () => (await deadLetters('aging')).length === 1, 'the dead letter', 8_000);
    const [[letterId, flat]] = await client.xrange('aging:dlq', '-', '+');
    const letter = toRecord(flat);
    expect(letter[DLQ_FIELD.error]).toMatch(/max ?age|older than|age limit|too old/i);
    expect(Number(letter[DLQ_FIELD.attempts])).toBeLessThan(100);
    expect(probe.calls.length).toBeGreaterThanOrEqual(3);
    // Given up at the deadline: after it, and within a retry or two of it.
    const ageAtDeadLetter = idTime(letterId) - idTime(id);
    expect(ageAtDeadLetter).toBeGreaterThanOrEqual(MAX_AGE_MS - 50);
    expect(ageAtDeadLetter).toBeLessThan(MAX_AGE_MS + 1_500);
  }, 20_000);

  it('opens the circuit after failures of 3 different entries: only probes at growing intervals, no dead letters, all handled once it recovers', async () => {
    const probe = new Probe();
    let healthy = false;
    probe.behaviour = async () => {
      await sleep(50);
      if (!healthy) throw new Error('the destination is down');
    };
    const app = await start(probe, 'c1', Breaking);
    await start(probe, 'c2', Breaking);
    const flow = app.get(FlowControl);
    await app.get(StreamPublisher).publishMany(
      'breaker',
      Array.from({ length: 6 }, (_, i) => ({ payload: { n: i } })),
    );

    await waitFor(
      async () => (await flow.state('breaker', 'breaker')).circuit === 'open',
      'the circuit to open',
      5_000,
      20,
    );
    const openAt = Date.now();
    expect(new Set(probe.calls.map((call) => call.message.id)).size).toBeGreaterThanOrEqual(3);
    const watchMs = 6_000;
    await sleep(watchMs);
    // Calls in flight when it opened start before it; everything after is a probe. The waits:
    // from the opening to the first probe, then between probes.
    const probes = probe.calls.filter((call) => call.at >= openAt + 100).map((call) => call.at);
    const starts = [openAt, ...probes];
    const waits = probes.map((at, i) => at - starts[i]);
    expect(probes.length).toBeGreaterThanOrEqual(2);
    expect(probes.length).toBeLessThanOrEqual(8);
    // One at a time, never closer than before, growing up to the cap (give or take a tick).
    const tickMs = 300;
    expect(Math.min(...waits.slice(1))).toBeGreaterThanOrEqual(100);
    waits.slice(1).forEach((wait, i) => expect(wait).toBeGreaterThanOrEqual(waits[i] - tickMs));
    expect(Math.max(...waits)).toBeGreaterThanOrEqual(
      Math.min(MAX_PROBE_INTERVAL_MS, 2 * waits[0]) - tickMs,
    );
    expect(Math.max(...waits)).toBeLessThanOrEqual(MAX_PROBE_INTERVAL_MS + 2 * tickMs);
    // maxAttempts is 2: without the circuit every entry would be dead-lettered by now.
    expect(await deadLetters('breaker')).toEqual([]);
    expect((await flow.state('breaker', 'breaker')).circuit).toBe('open');

    healthy = true;
    const handled = (): number =>
      new Set(
        probe.calls.filter((call) => call.at >= openAt + watchMs).map((call) => call.message.id),
      ).size;
    await waitFor(
      () => handled() === 6,
      'every entry once it recovered',
      MAX_PROBE_INTERVAL_MS + 5_000,
    );
    expect(await deadLetters('breaker')).toEqual([]);
    expect(Math.max(...probe.calls.map((call) => call.message.attempt))).toBeLessThanOrEqual(2);
    expect((await flow.state('breaker', 'breaker')).circuit).toBe('closed');
    await waitFor(async () => (await pendingCount('breaker')) === 0, 'nothing left pending');
  }, 30_000);

  it('stops deliveries while paused by hand (FlowControl.pause), on every consumer, until resumed', async () => {
    const probe = new Probe();
    const app = await start(probe, 'c1', Pausable);
    await start(probe, 'c2', Pausable);
    const flow = app.get(FlowControl);
    await flow.pause('pausable', 'pausable');
    expect((await flow.state('pausable', 'pausable')).paused).toBe(true);
    // Every consumer obeys within a maintenance tick (at most 500 ms).
    await sleep(1_000);
    await app.get(StreamPublisher).publishMany(
      'pausable',
      Array.from({ length: 5 }, (_, i) => ({ payload: { n: i } })),
    );
    await sleep(1_500);
    expect(probe.calls.map((call) => call.message.id)).toEqual([]);

    await flow.resume('pausable', 'pausable');
    expect((await flow.state('pausable', 'pausable')).paused).toBe(false);
    await waitFor(() => probe.calls.length === 5, 'the entries after resume', 5_000);
    await waitFor(async () => (await pendingCount('pausable')) === 0, 'nothing left pending');
  }, 20_000);
});
