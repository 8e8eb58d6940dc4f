import { Inject, Injectable } from '@nestjs/common';
import { NonRetryableError, StreamHandler, streamKeys, type StreamMessage } from '../src/index.js';
import { ACK, DEAD_LETTER, SCHEDULE_RETRY } from '../src/scripts/group-settlement.scripts.js';
import { RECLAIM, TAKE_DUE_RETRIES } from '../src/scripts/old-work.scripts.js';
import { ENSURE_GROUP, SWEEP_BOOKKEEPING } from '../src/scripts/group-lifecycle.scripts.js';
import { FirstHandler, PROBE, Probe } from './support/stream-probe.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { sleep, waitFor } from './support/wait-for.js';

const S = 's';
const G = 'g';
const KEYS = {
  retries: streamKeys.retries(S, G),
  attempts: streamKeys.attempts(S, G),
  deadLetter: streamKeys.deadLetter(S),
};
const CLAIM_MS = 60_000;

/**
 * The group consumer's Lua scripts, run as the consumer runs them, against a real redis-server:
 * who may settle an entry, what a second run of the same call does (a resend after a timeout or
 * a Cluster failover), and that no path leaves retry bookkeeping behind.
 */
describe('stream scripts', () => {
  const bed = streamsTestbed({ appendOnly: false });
  let calls = 0;
  const claimKey = (): string => streamKeys.claim(S, G, `test.${++calls}`);

  /** Appends `n` entries and reads them as `consumer`: delivery 1 of each. */
  const deliver = async (consumer: string, n = 1): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await bed.client.xadd(S, '*', 'n', String(i)))!);
    await bed.client.xreadgroup('GROUP', G, consumer, 'COUNT', n, 'STREAMS', S, '>');
    return ids;
  };
  /** [owner, delivery count] of a pending entry, or null. */
  const row = async (id: string): Promise<[string, number] | null> => {
    const [found] = (await bed.client.xpending(S, G, id, id, 1)) as Array<
      [string, string, number, number]
    >;
    return found ? [found[1], found[3]] : null;
  };
  const pendingCount = async (): Promise<number> =>
    Number(((await bed.client.xpending(S, G)) as [number])[0]);
  const bookkeeping = async (): Promise<{ attempts: number; retries: number }> => ({
    attempts: await bed.client.hlen(KEYS.attempts),
    retries: await bed.client.zcard(KEYS.retries),
  });

  const deadLetter = (consumer: string, delivery: number, id: string): Promise<unknown> =>
    DEAD_LETTER.run(
      bed.client,
      [S, KEYS.deadLetter, KEYS.retries, KEYS.attempts],
      [G, consumer, delivery, id, 'n', 'x', 'dlq-error', 'poison'],
    );
  const scheduleRetry = (
    consumer: string,
    delivery: number,
    id: string,
    spent: number,
    dueAt = Date.now() - 1,
  ): Promise<number> =>
    SCHEDULE_RETRY.run<number>(
      bed.client,
      [S, KEYS.retries, KEYS.attempts],
      [G, consumer, delivery, id, dueAt, spent],
    );
  type Claimed = { ids: string[]; attempts: number[]; gone: string[]; deliveries: number[] };
  const takeDueRetries = async (consumer: string, key = claimKey()): Promise<Claimed> => {
    const [entries, attempts, gone, deliveries] = await TAKE_DUE_RETRIES.run<
      [Array<[Buffer, unknown]>, number[], Buffer[], number[]]
    >(bed.client, [S, KEYS.retries, KEYS.attempts, key], [G, consumer, Date.now(), 10, CLAIM_MS]);
    return {
      ids: entries.map(([id]) => id.toString()),
      attempts,
      gone: gone.map(String),
      deliveries,
    };
  };
  const reclaim = async (
    consumer: string,
    minIdleMs: number,
    key = claimKey(),
    owner?: string,
  ): Promise<Claimed & { next: string }> => {
    const args: Array<string | number> = [G, consumer, minIdleMs, '-', 10, CLAIM_MS];
    if (owner) args.push(owner);
    const [next, entries, attempts, gone, deliveries] = await RECLAIM.run<
      [Buffer, Array<[Buffer, unknown]>, number[], Buffer[], number[]]
    >(bed.client, [S, KEYS.retries, KEYS.attempts, key], args);
    return {
      next: next.toString(),
      ids: entries.map(([id]) => id.toString()),
      attempts,
      gone: gone.map(String),
      deliveries,
    };
  };

  beforeEach(async () => {
    await bed.client.xgroup('CREATE', S, G, '0', 'MKSTREAM');
  });

  describe('settle only the current delivery', () => {
    it('DEAD_LETTER by a consumer whose entry was claimed by another writes nothing', async () => {
      const [id] = await deliver('a');
      await bed.client.xclaim(S, G, 'b', 0, id);

      expect(await deadLetter('a', 1, id)).toBeNull();
      expect(await bed.client.xlen(KEYS.deadLetter)).toBe(0);
      expect(await row(id)).toEqual(['b', 2]);
    });

    it('DEAD_LETTER of an old delivery writes nothing, though the entry came back to the same consumer', async () => {
      const [id] = await deliver('a');
      await bed.client.xclaim(S, G, 'b', 0, id);
      await bed.client.xclaim(S, G, 'a', 0, id);

      expect(await deadLetter('a', 1, id)).toBeNull();
      expect(await row(id)).toEqual(['a', 3]);
      // The current delivery dead-letters it, once, also when the call is sent twice.
      expect(await deadLetter('a', 3, id)).toEqual(expect.any(Buffer));
      expect(await deadLetter('a', 3, id)).toBeNull();
      expect(await bed.client.xlen(KEYS.deadLetter)).toBe(1);
      expect(await row(id)).toBeNull();
    });

    it('SCHEDULE_RETRY sent again after its retry was taken schedules nothing', async () => {
      const [id] = await deliver('a');
      const dueAt = Date.now() - 1;
      expect(await scheduleRetry('a', 1, id, 1, dueAt)).toBe(1);
      // A resend before the retry is taken writes the same thing again.
      expect(await scheduleRetry('a', 1, id, 1, dueAt)).toBe(1);
      expect(await bookkeeping()).toEqual({ attempts: 1, retries: 1 });

      const taken = await takeDueRetries('b');
      expect(taken).toMatchObject({ ids: [id], attempts: [1], deliveries: [2] });
      expect(await scheduleRetry('a', 1, id, 1, dueAt)).toBe(0);
      expect(await bed.client.zcard(KEYS.retries)).toBe(0);
      expect(await row(id)).toEqual(['b', 2]);
    });

    it('SCHEDULE_RETRY sent again after the same consumer took its retry schedules nothing', async () => {
      const [id] = await deliver('a');
      // A deferral that spends no attempt (an idempotent handler's event busy elsewhere).
      expect(await scheduleRetry('a', 1, id, 0)).toBe(1);
      expect(await takeDueRetries('a')).toMatchObject({ ids: [id], attempts: [0] });
      expect(await scheduleRetry('a', 1, id, 0)).toBe(0);
      expect(await bed.client.zcard(KEYS.retries)).toBe(0);
      expect(await row(id)).toEqual(['a', 2]);
    });
  });

  describe('safe to run twice', () => {
    it('RECLAIM sent twice hands out the same entries and counts one attempt', async () => {
      const ids = await deliver('dead', 2);
      await sleep(60);
      const key = claimKey();
      const first = await reclaim('live', 50, key);
      expect(first).toMatchObject({ ids, attempts: [1, 1], deliveries: [2, 2], gone: [] });

      // Meanwhile another abandoned entry became claimable: the resend must not take it.
      const [other] = await deliver('dead');
      await sleep(60);
      const second = await reclaim('live', 50, key);
      expect(second).toEqual(first);
      expect(await bed.client.hmget(KEYS.attempts, ...ids)).toEqual(['1', '1']);
      expect(await row(ids[0])).toEqual(['live', 2]);
      expect(await row(other)).toEqual(['dead', 1]);
    });

    it('RECLAIM of its own entries after a restart (min idle 0) sent twice counts one attempt', async () => {
      const [id] = await deliver('c1');
      const key = claimKey();
      const first = await reclaim('c1', 0, key, 'c1');
      const second = await reclaim('c1', 0, key, 'c1');
      expect(first).toMatchObject({ ids: [id], attempts: [1], deliveries: [2] });
      expect(second).toEqual(first);
      expect(await bed.client.hget(KEYS.attempts, id)).toBe('1');
      expect(await row(id)).toEqual(['c1', 2]);
    });

    it('TAKE_DUE_RETRIES sent twice hands out the same entries and nothing else', async () => {
      const [id] = await deliver('a');
      await scheduleRetry('a', 1, id, 1);
      const key = claimKey();
      const first = await takeDueRetries('a', key);
      expect(first).toMatchObject({ ids: [id], attempts: [1], deliveries: [2] });

      const [later] = await deliver('a');
      await scheduleRetry('a', 1, later, 1);
      const second = await takeDueRetries('a', key);
      expect(second).toEqual(first);
      expect(await row(id)).toEqual(['a', 2]);
      expect(await bed.client.zscore(KEYS.retries, later)).not.toBeNull();
    });

    it('a second run hands out nothing that was settled or claimed elsewhere since', async () => {
      const [done, moved] = await deliver('dead', 2);
      await sleep(30);
      const key = claimKey();
      expect((await reclaim('live', 20, key)).ids).toEqual([done, moved]);
      await ACK.run(bed.client, [S, KEYS.retries, KEYS.attempts], [G, done]);
      await bed.client.xclaim(S, G, 'other', 0, moved);
      expect((await reclaim('live', 20, key)).ids).toEqual([]);
    });

    it('TAKE_DUE_RETRIES fails before it writes anything when the group is gone', async () => {
      const [id] = await deliver('a');
      await scheduleRetry('a', 1, id, 1);
      await bed.client.xgroup('DESTROY', S, G);
      await expect(takeDueRetries('a')).rejects.toThrow(/NOGROUP/);
      expect(await bed.client.zscore(KEYS.retries, id)).not.toBeNull();
    });

    it('ENSURE_GROUP creates the group once, and only then drops what a deleted group left', async () => {
      // More than one HSCAN step's worth.
      const left = Array.from({ length: 1_200 }, (_, i) => `${i + 1}-0`);
      await bed.client.hset(KEYS.attempts, ...left.flatMap((id) => [id, '2']));
      await bed.client.zadd(KEYS.retries, ...left.flatMap((id) => [1, id]));
      const ensure = (start: string): Promise<[number, Buffer]> =>
        ENSURE_GROUP.run(bed.client, [S, KEYS.retries, KEYS.attempts], [G, start]);
      // The group exists (beforeEach): nothing changes.
      expect((await ensure('0'))[0]).toBe(0);
      expect(await bookkeeping()).toEqual({ attempts: 1_200, retries: 1_200 });

      await bed.client.xgroup('DESTROY', S, G);
      const [created, position] = await ensure('5-0');
      expect([created, position.toString()]).toEqual([1, '5-0']);
      expect(await bookkeeping()).toEqual({ attempts: 0, retries: 0 });
      expect((await ensure('0'))[0]).toBe(0);
    });
  });

  it('leaves no retry bookkeeping behind on any path', async () => {
    // Retried, then handled.
    const [handled] = await deliver('a');
    await scheduleRetry('a', 1, handled, 1);
    await takeDueRetries('a');
    await ACK.run(bed.client, [S, KEYS.retries, KEYS.attempts], [G, handled]);

    // Acknowledged elsewhere while its retry waited; then the owner dead-letters it, in vain.
    const [doneElsewhere] = await deliver('a');
    await scheduleRetry('a', 1, doneElsewhere, 1);
    await bed.client.xack(S, G, doneElsewhere);
    expect(await deadLetter('a', 1, doneElsewhere)).toBeNull();

    // Reclaimed (an attempt counted), then acknowledged by its slow first owner's plain XACK;
    // the reclaiming consumer's attempt fails and finds it no longer pending.
    const [slow] = await deliver('a');
    await sleep(30);
    await reclaim('b', 20);
    await bed.client.xack(S, G, slow);
    expect(await scheduleRetry('b', 2, slow, 2)).toBe(0);

    // A due retry of an entry acknowledged meanwhile is gone when taken.
    const [stale] = await deliver('a');
    await scheduleRetry('a', 1, stale, 1);
    await bed.client.xack(S, G, stale);
    expect((await takeDueRetries('a')).gone).toEqual([stale]);

    // Pending on a dead consumer, counted once, and trimmed from the stream: gone when reclaimed.
    const [trimmed] = await deliver('dead');
    await sleep(30);
    await reclaim('b', 20);
    await bed.client.xclaim(S, G, 'dead', 0, trimmed);
    await bed.client.xdel(S, trimmed);
    await sleep(30);
    expect((await reclaim('b', 20)).gone).toEqual([trimmed]);

    // What no script sees: the plain XACK after a reclaim, when the reclaiming consumer then
    // stops for good. The sweep removes it.
    const [orphan] = await deliver('a');
    await sleep(30);
    await reclaim('crashed', 20);
    await bed.client.xack(S, G, orphan);
    expect(await bookkeeping()).toEqual({ attempts: 1, retries: 0 });
    const [cursor, removed] = await SWEEP_BOOKKEEPING.run<[Buffer, number]>(
      bed.client,
      [S, KEYS.retries, KEYS.attempts],
      [G, '0', 100],
    );
    expect([cursor.toString(), removed]).toEqual(['0', 1]);

    expect(await pendingCount()).toBe(0);
    expect(await bookkeeping()).toEqual({ attempts: 0, retries: 0 });
  });
});

const RELEASE = Symbol('release');
/** Lets the test decide when each consumer's handler finishes, and how. */
class Gate {
  readonly started: Array<{ consumer: string; attempt: number }> = [];
  readonly waiting = new Map<string, () => void>();
  release(consumer: string): void {
    this.waiting.get(consumer)?.();
  }
}

@Injectable()
class GatedHandler {
  constructor(@Inject(RELEASE) private readonly gate: Gate) {}

  /** On consumer `a` it gives up for good; on any other it succeeds. */
  @StreamHandler('race', { group: 'g', maxAttempts: 5 })
  async handle(_: unknown, message: StreamMessage): Promise<void> {
    this.gate.started.push({ consumer: message.consumer, attempt: message.attempt });
    await new Promise<void>((resolve) => this.gate.waiting.set(message.consumer, resolve));
    if (message.consumer === 'a') throw new NonRetryableError('poison, says the stale owner');
  }
}

describe('a consumer whose entry was claimed by another', () => {
  const bed = streamsTestbed({ appendOnly: false });

  it('does not dead-letter it when its handler gives up late: the new owner handles it', async () => {
    const gate = new Gate();
    const handlerDefaults = { blockMs: 100, backoff: { baseMs: 100, maxMs: 200 } };
    // `a` renews its lease at its first tick, then not for claimMinIdleMs / 3: far beyond this test.
    await bed.start({ consumerName: 'a', claimMinIdleMs: 60_000, handlerDefaults }, [
      { provide: RELEASE, useValue: gate },
      GatedHandler,
    ]);
    const id = (await bed.client.xadd('race', '*', 'message', 'one'))!;
    await waitFor(() => gate.waiting.has('a'), "a's handler to start");

    // `b` claims what looks abandoned after 300 ms.
    await bed.start({ consumerName: 'b', claimMinIdleMs: 300, handlerDefaults }, [
      { provide: RELEASE, useValue: gate },
      GatedHandler,
    ]);
    await waitFor(() => gate.waiting.has('b'), "b's claim", 10_000);

    gate.release('a');
    await sleep(300);
    expect(await bed.client.xlen('race:dlq')).toBe(0);
    const [[, owner]] = (await bed.client.xpending('race', 'g', '-', '+', 10)) as Array<
      [string, string]
    >;
    expect(owner).toBe('b');

    gate.release('b');
    await waitFor(
      async () => Number(((await bed.client.xpending('race', 'g')) as [number])[0]) === 0,
      "b's acknowledgement",
    );
    expect(gate.started).toEqual([
      { consumer: 'a', attempt: 1 },
      { consumer: 'b', attempt: 2 },
    ]);
    expect(await bed.client.xlen('race:dlq')).toBe(0);
    expect(await bed.client.hlen('race:attempts:g')).toBe(0);
    expect(id).toBeDefined();
  }, 30_000);
});

describe('consumer group lifecycle', () => {
  const bed = streamsTestbed({ appendOnly: false });
  const handlerDefaults = { blockMs: 100 };

  it('creates a deleted group again after what it had read, not at the beginning', async () => {
    const probe = new Probe();
    await bed.start({ consumerName: 'c1', handlerDefaults }, [
      { provide: PROBE, useValue: probe },
      FirstHandler,
    ]);
    for (const message of ['old-1', 'old-2', 'old-3']) {
      await bed.client.xadd('orders', '*', 'message', message);
    }
    await waitFor(() => probe.calls.length === 3, 'the first three');

    await bed.client.xgroup('DESTROY', 'orders', 'first');
    for (const message of ['new-1', 'new-2']) {
      await bed.client.xadd('orders', '*', 'message', message);
    }
    await waitFor(() => probe.calls.length >= 5, 'the two new ones', 10_000);
    await sleep(500);
    expect(probe.calls.map((c) => (c.payload as { message: string }).message)).toEqual([
      'old-1',
      'old-2',
      'old-3',
      'new-1',
      'new-2',
    ]);
  }, 20_000);

  it('deletes consumers long idle with nothing pending, keeps those with pending entries, and sweeps bookkeeping', async () => {
    await bed.client.xgroup('CREATE', 'orders', 'first', '0', 'MKSTREAM');
    // An attempt count of an entry no longer pending, as a consumer that stopped for good leaves it.
    await bed.client.hset('orders:attempts:first', '1-1', '1');
    await bed.client.call('XGROUP', 'CREATECONSUMER', 'orders', 'first', 'old-pod');
    await bed.client.xadd('orders', '*', 'message', 'left by a crash');
    await bed.client.xreadgroup('GROUP', 'first', 'crashed-pod', 'STREAMS', 'orders', '>');
    await sleep(700);

    const probe = new Probe();
    await bed.start(
      // Long claimMinIdleMs: the crashed pod's entry stays its own during the test.
      { consumerName: 'live', claimMinIdleMs: 60_000, staleConsumerIdleMs: 500, handlerDefaults },
      [{ provide: PROBE, useValue: probe }, FirstHandler],
    );
    // A consumer appears once it is given an entry.
    await bed.client.xadd('orders', '*', 'message', 'for the live one');
    await waitFor(() => probe.calls.length === 1, 'the live consumer to handle one');
    const consumers = async (): Promise<string[]> =>
      ((await bed.client.xinfo('CONSUMERS', 'orders', 'first')) as string[][])
        .map((info) => info[1])
        .sort();
    await waitFor(
      async () => !(await consumers()).includes('old-pod'),
      'the stale consumer to be deleted',
      10_000,
    );
    expect(await consumers()).toEqual(['crashed-pod', 'live']);
    await waitFor(
      async () => (await bed.client.hlen('orders:attempts:first')) === 0,
      'the sweep',
      5_000,
    );
  }, 20_000);
});
