import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import {
  DLQ_FIELD,
  NonRetryableError,
  RedisConnections,
  StreamEvents,
  partitionStream,
  streamKeys,
  type RedisClient,
  type StreamEventListener,
  type StreamMessage,
} from '../src/index.js';
import { InfrastructureError } from '../src/errors/infrastructure-error.js';
import type { Delivery } from '../src/consumer/own-pending.js';
import { RetryPolicy } from '../src/consumer/retry-policy.js';
import { ACK } from '../src/scripts/group-settlement.scripts.js';
import { ACQUIRE_LEASE } from '../src/scripts/fenced.scripts.js';
import {
  encodeEntry,
  fromTextReply,
  mayHaveLostBytes,
  type RawEntry,
} from '../src/stream-codec.js';
import { Capacity } from '../src/consumer/capacity.js';
import type { ConsumerContext, ConsumerDefinition } from '../src/consumer/consumer-definition.js';
import { decide } from '../src/consumer/decide.js';
import { EventClaims } from '../src/consumer/event-claims.js';
import { FencedSettler, LostLeaseError } from '../src/consumer/fenced-settler.js';
import { GroupPosition } from '../src/consumer/group-position.js';
import { GroupReader } from '../src/consumer/group-reader.js';
import { GroupSettler, type Acking } from '../src/consumer/group-settler.js';
import { HandlerInvoker } from '../src/consumer/handler-invoker.js';
import { LeaseKeeper } from '../src/consumer/lease-keeper.js';
import { OldWork } from '../src/consumer/old-work.js';
import { PartitionLease } from '../src/consumer/partition-lease.js';
import { PartitionReader } from '../src/consumer/partition-reader.js';
import { OrderDto } from './support/stream-probe.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { sleep, waitFor } from './support/wait-for.js';
import { FlowGate } from '../src/consumer/flow-gate.js';

/** The consumer under test, its stream and group, and the group's retry bookkeeping. */
const [ME, S, G] = ['c1', 'parts', 'g'];
const KEYS = { retries: streamKeys.retries(S, G), attempts: streamKeys.attempts(S, G) };

/** A Logger that keeps its lines for the test to read, instead of printing them. */
class RecordingLogger extends Logger {
  readonly lines: string[] = [];
  override log(message: unknown): void {
    this.lines.push(`log ${String(message)}`);
  }
  override warn(message: unknown): void {
    this.lines.push(`warn ${String(message)}`);
  }
  override error(message: unknown): void {
    this.lines.push(`error ${String(message)}`);
  }
  override debug(message: unknown): void {
    this.lines.push(`debug ${String(message)}`);
  }
  with(level: string, text: string): string[] {
    return this.lines.filter((line) => line.startsWith(`${level} `) && line.includes(text));
  }
}

/** Every event a StreamEvents emits, in order. */
function recordEvents(events: StreamEvents): Array<[string, unknown]> {
  const seen: Array<[string, unknown]> = [];
  const hooks = ['handled', 'failed', 'retried', 'reclaimed', 'deadLettered'] as const;
  const listener: StreamEventListener = {};
  for (const hook of [...hooks, 'infrastructureFailed' as const]) {
    listener[hook] = (event: never) => seen.push([hook, event]);
  }
  events.subscribe(listener);
  return seen;
}

/** A client whose every command fails as on a connection that is gone. */
function deadRedis(): Redis {
  const dead = new Redis({ lazyConnect: true, enableOfflineQueue: false });
  dead.disconnect();
  return dead;
}

/** For callbacks a test expects never to be called. */
function unexpected(...args: unknown[]): never {
  throw new Error(`unexpected call: ${args.map(String).join(' ')}`);
}

/** Field name to text, from a flat [name, value, ...] list. */
function fieldsOf(flat: Array<string | Buffer>): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i].toString()] = flat[i + 1].toString();
  return fields;
}

/**
 * The consumer's parts, built one by one on a ConsumerContext as StreamConsumer and
 * OrderedPartition build them, against a real redis-server: what each does in Redis.
 */
describe('consumer parts', () => {
  const bed = streamsTestbed({ appendOnly: false });
  const cleanups: Array<() => unknown> = [];
  const dead = deadRedis();

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  afterAll(() => dead.disconnect());

  const context = (
    definition: Partial<ConsumerDefinition> = {},
    redis: () => RedisClient = () => bed.client,
  ): ConsumerContext & { logger: RecordingLogger } => ({
    definition: {
      stream: S,
      group: G,
      flow: { key: `${S}:flow:${G}` },
      startFrom: 'beginning',
      batchSize: 10,
      concurrency: 4,
      prefetch: 0,
      blockMs: 100,
      // random() = 0.5: the wait after attempt n is three quarters of min(1000, 100·2^(n-1)).
      policy: new RetryPolicy(3, { baseMs: 100, maxMs: 1_000 }, () => 0.5),
      handle: () => undefined,
      ...definition,
    },
    runtime: {
      consumerName: ME,
      claimMinIdleMs: 1_000,
      maxValueBytes: 64 * 1024,
      staleConsumerIdleMs: 3_600_000,
    },
    redis,
    events: new StreamEvents(),
    logger: new RecordingLogger('x'),
  });

  const createGroup = (stream = S, start = '0'): Promise<unknown> =>
    bed.client.xgroup('CREATE', stream, G, start, 'MKSTREAM');
  const append = async (eventId: string, payload: unknown, stream = S): Promise<string> =>
    (await bed.client.xadd(stream, '*', ...encodeEntry(eventId, payload)))!;
  /** Delivers up to `count` new entries to `consumer` (delivery 1 of each). */
  const deliver = (consumer: string, count = 10, stream = S): Promise<unknown> =>
    bed.client.xreadgroup('GROUP', G, consumer, 'COUNT', count, 'STREAMS', stream, '>');
  /** The entry as a consumer reads it: as text. */
  const textEntry = async (id: string, stream = S): Promise<RawEntry> => {
    const [reply] = await bed.client.xrange(stream, id, id);
    return fromTextReply(reply)!;
  };
  /** [id, owner, delivery count] of every pending entry. */
  const pending = async (stream = S): Promise<Array<[string, string, number]>> => {
    const rows = (await bed.client.xpending(stream, G, '-', '+', 100)) as Array<
      [string, string, number, number]
    >;
    return rows.map(([id, owner, , deliveries]) => [id, owner, deliveries]);
  };
  const deadLetters = async (stream = S): Promise<Array<Record<string, string>>> =>
    (await bed.client.xrange(streamKeys.deadLetter(stream), '-', '+')).map(([, flat]) =>
      fieldsOf(flat),
    );

  describe('HandlerInvoker', () => {
    it('runs the handler with the decoded payload and reports it handled, with its duration', async () => {
      const calls: Array<[unknown, StreamMessage]> = [];
      const ctx = context({
        handle: async (payload, message) => {
          calls.push([payload, message]);
          await sleep(25);
        },
      });
      const id = await append('evt-1', { message: 'disk full' });
      const invocation = await new HandlerInvoker(ctx, undefined).invoke(
        await textEntry(id),
        2,
        S,
        { partition: 3, fencingToken: 7 },
      );
      expect(invocation).toMatchObject({ outcome: 'handled', eventId: 'evt-1', entry: { id } });
      expect(invocation.outcome === 'handled' && invocation.durationMs).toBeGreaterThanOrEqual(20);
      expect(calls).toEqual([
        [
          { message: 'disk full' },
          expect.objectContaining({
            id,
            stream: S,
            group: G,
            consumer: ME,
            eventId: 'evt-1',
            attempt: 2,
            partition: 3,
            fencingToken: 7,
            fields: expect.objectContaining({ eventId: 'evt-1' }),
          }),
        ],
      ]);
    });

    it('reports a handler that throws as failed with its error', async () => {
      const boom = new Error('webhook answered 500');
      const ctx = context({
        handle: () => {
          throw boom;
        },
      });
      const id = await append('evt-2', { message: 'x' });
      const invocation = await new HandlerInvoker(ctx, undefined).invoke(await textEntry(id), 1, S);
      expect(invocation).toMatchObject({ outcome: 'failed', error: boom, eventId: 'evt-2' });
    });

    it('fails a payload that breaks its DTO with a NonRetryableError, without running the handler', async () => {
      let calls = 0;
      const ctx = context({ dto: OrderDto, handle: () => (calls += 1) });
      const id = await append('evt-3', { message: 42 });
      const invocation = await new HandlerInvoker(ctx, undefined).invoke(await textEntry(id), 1, S);
      expect(invocation.outcome).toBe('failed');
      const error = invocation.outcome === 'failed' ? invocation.error : undefined;
      expect(error).toBeInstanceOf(NonRetryableError);
      expect((error as Error).message).toMatch(/^payload failed validation: message: /);
      expect(calls).toBe(0);
      expect(decide(ctx.definition.policy, 1, invocation, 100)).toMatchObject({
        action: 'dead-letter',
        reason: expect.stringMatching(/^NonRetryableError: payload failed validation/),
      });
    });

    it('gives the handler the validated DTO instance', async () => {
      const payloads: unknown[] = [];
      const ctx = context({ dto: OrderDto, handle: (payload) => payloads.push(payload) });
      const id = await append('evt-4', { message: 'ok' });
      const invocation = await new HandlerInvoker(ctx, undefined).invoke(await textEntry(id), 1, S);
      expect(invocation.outcome).toBe('handled');
      expect(payloads[0]).toBeInstanceOf(OrderDto);
    });

    it('runs an event once: busy while another delivery runs it, a duplicate once acknowledged', async () => {
      await createGroup();
      let calls = 0;
      let finish!: () => void;
      const handle = (): Promise<void> => {
        calls += 1;
        return new Promise<void>((resolve) => (finish = resolve));
      };
      const mine = context({ handle, idempotencyWindowMs: 60_000 });
      const theirs = context({ handle, idempotencyWindowMs: 60_000 });
      const first = await append('same-event', { message: 'a' });
      const second = await append('same-event', { message: 'a' });
      const running = new HandlerInvoker(mine, new EventClaims(mine.redis, S, G, 10_000)).invoke(
        await textEntry(first),
        1,
        S,
      );
      await waitFor(() => calls === 1, 'the first delivery to run');
      const other = new HandlerInvoker(theirs, new EventClaims(theirs.redis, S, G, 10_000));
      expect(await other.invoke(await textEntry(second), 1, S)).toMatchObject({
        outcome: 'event-busy',
        eventId: 'same-event',
      });
      finish();
      expect((await running).outcome).toBe('handled');
      // The acknowledgement records the event as handled (the marker becomes done).
      await ACK.run(
        bed.client,
        [S, KEYS.retries, KEYS.attempts, streamKeys.done(S, G, 'same-event')],
        [G, first, 60_000],
      );
      expect(await other.invoke(await textEntry(second), 1, S)).toMatchObject({
        outcome: 'duplicate',
        eventId: 'same-event',
      });
      expect(calls).toBe(1);
    });

    it('reads an entry whose text lost bytes again as bytes, so a dead letter keeps them', async () => {
      await createGroup();
      const bytes = Buffer.from([0x41, 0xff, 0xfe, 0x42]);
      const id = (await bed.client.xadd(S, '*', 'eventId', 'evt-bin', 'blob', bytes))!;
      await deliver(ME);
      const text = await textEntry(id);
      expect(mayHaveLostBytes(text)).toBe(true);
      const ctx = context();
      const invocation = await new HandlerInvoker(ctx, undefined).invoke(text, 1, S);
      expect(invocation.outcome).toBe('failed');
      expect(invocation.outcome === 'failed' && invocation.error).toEqual(
        new NonRetryableError('field "blob" is not valid UTF-8 text'),
      );
      expect(Buffer.isBuffer(invocation.entry.fields[3])).toBe(true);
      expect(Buffer.compare(invocation.entry.fields[3] as Buffer, bytes)).toBe(0);

      // Dead-lettered as decided, the copy holds the original bytes.
      const decision = decide(ctx.definition.policy, 1, invocation, 100);
      expect(decision.action).toBe('dead-letter');
      const settler = new GroupSettler(ctx, undefined, unexpected, () => undefined);
      await settler.deadLetter(
        { entry: invocation.entry, attempt: 1, tracked: false },
        invocation.eventId,
        decision.action === 'dead-letter' ? decision.reason : '',
      );
      const [[, copied]] = await bed.client.xrangeBuffer(streamKeys.deadLetter(S), '-', '+');
      const blob = copied[copied.findIndex((name) => name.toString() === 'blob') + 1];
      expect(Buffer.compare(blob, bytes)).toBe(0);
    });

    it('runs a raw-fields handler on the bytes read again, decoded leniently', async () => {
      const id = (await bed.client.xadd(S, '*', 'blob', Buffer.from([0x41, 0xff])))!;
      const payloads: unknown[] = [];
      const ctx = context({ rawFields: true, handle: (payload) => payloads.push(payload) });
      const invocation = await new HandlerInvoker(ctx, undefined).invoke(await textEntry(id), 1, S);
      expect(invocation.outcome).toBe('handled');
      expect(Buffer.isBuffer(invocation.entry.fields[1])).toBe(true);
      expect(payloads).toEqual([{ blob: 'A\uFFFD' }]);
    });

    it('keeps the text when the entry was deleted before it could be read again', async () => {
      const id = (await bed.client.xadd(
        S,
        '*',
        'eventId',
        'evt-del',
        'blob',
        Buffer.from([0xff]),
      ))!;
      const text = await textEntry(id);
      await bed.client.xdel(S, id);
      const invocation = await new HandlerInvoker(context(), undefined).invoke(text, 1, S);
      expect(invocation.entry).toBe(text);
    });

    it('fails with an InfrastructureError when Redis fails the read again, which waits for Redis', async () => {
      const id = (await bed.client.xadd(S, '*', 'blob', Buffer.from([0xff])))!;
      const text = await textEntry(id);
      const ctx = context({}, () => dead);
      const invocation = await new HandlerInvoker(ctx, undefined).invoke(text, 1, S);
      const error = invocation.outcome === 'failed' ? invocation.error : undefined;
      expect(error).toBeInstanceOf(InfrastructureError);
      expect(decide(ctx.definition.policy, 3, invocation, 100).action).toBe('wait-for-redis');
    });
  });

  describe('EventClaims', () => {
    const marker = (eventId: string): string => streamKeys.done(S, G, eventId);

    it('lets one entry run an event: the others find it busy, then done', async () => {
      const mine = new EventClaims(() => bed.client, S, G, 10_000);
      const theirs = new EventClaims(() => bed.client, S, G, 10_000);
      expect(await mine.claim('1-0', 'evt')).toBe('run');
      expect(mine.heldFor('1-0')).toBe('evt');
      // Asking again for the same entry (a resent call) keeps the answer.
      expect(await mine.claim('1-0', 'evt')).toBe('run');
      expect(await theirs.claim('2-0', 'evt')).toBe('busy');
      expect(theirs.heldFor('2-0')).toBeUndefined();
      await bed.client.set(marker('evt'), '1', 'PX', 60_000);
      expect(await theirs.claim('2-0', 'evt')).toBe('done');
      expect(await mine.claim('1-0', 'evt')).toBe('done');
    });

    it('release after a failed attempt lets another delivery run the event', async () => {
      const mine = new EventClaims(() => bed.client, S, G, 10_000);
      const theirs = new EventClaims(() => bed.client, S, G, 10_000);
      await mine.claim('1-0', 'evt');
      await mine.release('1-0');
      expect(mine.heldFor('1-0')).toBeUndefined();
      expect(await bed.client.exists(marker('evt'))).toBe(0);
      expect(await theirs.claim('2-0', 'evt')).toBe('run');
    });

    it('release leaves a marker that another entry took after ours expired', async () => {
      const mine = new EventClaims(() => bed.client, S, G, 50);
      const theirs = new EventClaims(() => bed.client, S, G, 10_000);
      await mine.claim('1-0', 'evt');
      await waitFor(async () => (await bed.client.exists(marker('evt'))) === 0, 'expiry', 2_000);
      expect(await theirs.claim('2-0', 'evt')).toBe('run');
      await mine.release('1-0');
      expect(await bed.client.get(marker('evt'))).toBe('running:2-0');
    });

    it('renew extends the PTTL of the markers it holds', async () => {
      const claims = new EventClaims(() => bed.client, S, G, 2_000);
      await claims.claim('1-0', 'evt-a');
      await claims.claim('2-0', 'evt-b');
      await sleep(300);
      expect(await bed.client.pttl(marker('evt-a'))).toBeLessThanOrEqual(1_750);
      await claims.renew();
      expect(await bed.client.pttl(marker('evt-a'))).toBeGreaterThan(1_800);
      expect(await bed.client.pttl(marker('evt-b'))).toBeGreaterThan(1_800);
      // A forgotten entry's marker is not renewed any more.
      claims.forget('2-0');
      await sleep(300);
      await claims.renew();
      expect(await bed.client.pttl(marker('evt-a'))).toBeGreaterThan(1_800);
      expect(await bed.client.pttl(marker('evt-b'))).toBeLessThanOrEqual(1_750);
    });

    it('reports a failing Redis as an InfrastructureError', async () => {
      const claims = new EventClaims(() => dead, S, G, 1_000);
      await expect(claims.claim('1-0', 'evt')).rejects.toBeInstanceOf(InfrastructureError);
      expect(claims.heldFor('1-0')).toBeUndefined();
    });
  });

  describe('GroupPosition', () => {
    const lastDelivered = async (): Promise<string> => {
      const groups = (await bed.client.xinfo('GROUPS', S)) as Array<Array<string | number>>;
      const info = groups.find((g) => g[g.indexOf('name') + 1] === G)!;
      return String(info[info.indexOf('last-delivered-id') + 1]);
    };

    it("creates a group that starts with new entries at '$'", async () => {
      const logger = new RecordingLogger('x');
      await append('old-1', { message: 'a' });
      const old = await append('old-2', { message: 'b' });
      const position = new GroupPosition(S, G, 'new', logger);
      expect(position.known).toBe(false);
      await position.ensure(bed.client);
      expect(position.known).toBe(true);
      expect(await lastDelivered()).toBe(old);
      expect(await deliver(ME)).toBeNull();
      const fresh = await append('new-1', { message: 'c' });
      expect(await deliver(ME)).toEqual([[S, [[fresh, expect.any(Array)]]]]);
      expect(logger.with('log', 'starting at new entries')).toHaveLength(1);
    });

    it("creates a group that starts at the beginning at '0'", async () => {
      const logger = new RecordingLogger('x');
      const ids = [await append('a', { message: 'a' }), await append('b', { message: 'b' })];
      await new GroupPosition(S, G, 'beginning', logger).ensure(bed.client);
      const [[, entries]] = (await deliver(ME)) as Array<[string, Array<[string]>]>;
      expect(entries.map(([id]) => id)).toEqual(ids);
      expect(logger.with('log', 'starting at the beginning')).toHaveLength(1);
    });

    it('leaves an existing group where it is', async () => {
      const logger = new RecordingLogger('x');
      await append('a', { message: 'a' });
      await createGroup(S, '$');
      const at = await lastDelivered();
      await new GroupPosition(S, G, 'beginning', logger).ensure(bed.client);
      expect(await lastDelivered()).toBe(at);
      expect(logger.lines).toEqual([]);
    });

    it('creates a deleted group again at the last position it advanced to, so older entries are not delivered again', async () => {
      const logger = new RecordingLogger('x');
      const position = new GroupPosition(S, G, 'beginning', logger);
      await position.ensure(bed.client);
      const [a, b] = [await append('a', { message: 'a' }), await append('b', { message: 'b' })];
      await deliver(ME, 2);
      position.advance(b);
      const c = await append('c', { message: 'c' });
      // Retry bookkeeping of the deleted group must not apply to the new one.
      await bed.client.zadd(KEYS.retries, 1, a);
      await bed.client.hset(KEYS.attempts, a, '2');
      await bed.client.xgroup('DESTROY', S, G);

      await position.ensure(bed.client);
      expect(await lastDelivered()).toBe(b);
      const [[, entries]] = (await deliver(ME)) as Array<[string, Array<[string]>]>;
      expect(entries.map(([id]) => id)).toEqual([c]);
      expect(await bed.client.zcard(KEYS.retries)).toBe(0);
      expect(await bed.client.hlen(KEYS.attempts)).toBe(0);
      expect(logger.with('warn', `again, after entry ${b}`)).toHaveLength(1);
    });
  });

  describe('GroupSettler', () => {
    /** One new entry delivered to `ME`, as a read hands it to the settler. */
    const delivered = async (eventId = 'evt-s'): Promise<Delivery> => {
      const id = await append(eventId, { message: 'x' });
      await deliver(ME, 1);
      return { entry: await textEntry(id), attempt: 1, tracked: false };
    };
    const settlerFor = (
      ctx: ConsumerContext,
      claims?: EventClaims,
    ): { settler: GroupSettler; acked: string[]; unsure: () => number } => {
      const acked: string[] = [];
      let unsure = 0;
      const settler = new GroupSettler(
        ctx,
        claims,
        () => (unsure += 1),
        (id) => acked.push(id),
      );
      return { settler, acked, unsure: () => unsure };
    };

    beforeEach(() => createGroup());

    it('schedules a retry in the retries set, with the attempt counted, and reports it', async () => {
      const ctx = context();
      const events = recordEvents(ctx.events);
      const { settler } = settlerFor(ctx);
      const delivery = await delivered();
      const before = Date.now();
      await settler.retry(delivery, 'evt-s', 500, 'Error: boom');
      const due = Number(await bed.client.zscore(KEYS.retries, delivery.entry.id));
      expect(due).toBeGreaterThanOrEqual(before + 500);
      expect(due).toBeLessThanOrEqual(Date.now() + 500);
      expect(await bed.client.hget(KEYS.attempts, delivery.entry.id)).toBe('1');
      // Still pending under this consumer, for the retry to claim.
      expect(await pending()).toEqual([[delivery.entry.id, ME, 1]]);
      const { id } = delivery.entry;
      const reported = { stream: S, group: G, id, eventId: 'evt-s', attempt: 1 };
      expect(events).toEqual([['failed', { ...reported, retrying: true, reason: 'Error: boom' }]]);
      expect(
        ctx.logger.with(
          'warn',
          `Attempt failed (stream=${S} group=${G} entry=${delivery.entry.id} eventId=evt-s attempt=1), retrying in 500 ms: Error: boom`,
        ),
      ).toHaveLength(1);
    });

    it('defers without spending an attempt', async () => {
      const { settler } = settlerFor(context());
      const delivery = { ...(await delivered()), attempt: 2 };
      const before = Date.now();
      await settler.defer(delivery, 'evt-s', 300);
      expect(
        Number(await bed.client.zscore(KEYS.retries, delivery.entry.id)),
      ).toBeGreaterThanOrEqual(before + 300);
      expect(await bed.client.hget(KEYS.attempts, delivery.entry.id)).toBe('1');
    });

    it('dead-letters: writes the entry with the reason, acknowledges it and clears its bookkeeping', async () => {
      const ctx = context();
      const events = recordEvents(ctx.events);
      const { settler } = settlerFor(ctx);
      const delivery = await delivered();
      await settler.retry(delivery, 'evt-s', 60_000, 'Error: first');
      events.splice(0);
      await settler.deadLetter(
        { ...delivery, attempt: 2 },
        'evt-s',
        'gave up after 2 attempts: Error: second',
      );
      const [letter, ...more] = await deadLetters();
      expect(more).toEqual([]);
      expect(letter).toMatchObject({
        eventId: 'evt-s',
        payload: JSON.stringify({ message: 'x' }),
        [DLQ_FIELD.error]: 'gave up after 2 attempts: Error: second',
        [DLQ_FIELD.attempts]: '2',
        [DLQ_FIELD.group]: G,
        [DLQ_FIELD.consumer]: ME,
        [DLQ_FIELD.originalId]: delivery.entry.id,
        [DLQ_FIELD.stream]: S,
      });
      expect(await pending()).toEqual([]);
      expect(await bed.client.zcard(KEYS.retries)).toBe(0);
      expect(await bed.client.hlen(KEYS.attempts)).toBe(0);
      const reported = { stream: S, group: G, id: delivery.entry.id, eventId: 'evt-s', attempt: 2 };
      const reason = 'gave up after 2 attempts: Error: second';
      expect(events).toEqual([
        ['failed', { ...reported, retrying: false, reason }],
        ['deadLettered', { ...reported, reason }],
      ]);
    });

    it('settles nothing for a delivery another consumer claimed since', async () => {
      const ctx = context();
      const events = recordEvents(ctx.events);
      const { settler } = settlerFor(ctx);
      const delivery = await delivered();
      await bed.client.xclaim(S, G, 'c2', 0, delivery.entry.id);
      await settler.retry(delivery, 'evt-s', 100, 'Error: late');
      await settler.deadLetter(delivery, 'evt-s', 'NonRetryableError: late');
      expect(await bed.client.zcard(KEYS.retries)).toBe(0);
      expect(await bed.client.hlen(KEYS.attempts)).toBe(0);
      expect(await deadLetters()).toEqual([]);
      expect(await pending()).toEqual([[delivery.entry.id, 'c2', 2]]);
      expect(events).toEqual([]);
      expect(ctx.logger.with('warn', 'Not retried')).toHaveLength(1);
      expect(ctx.logger.with('warn', 'Not dead-lettered')).toHaveLength(1);
      expect(await settler.stillCurrent(delivery)).toBe(false);
    });

    it('settles nothing for an older delivery of its own (a higher delivery count is current)', async () => {
      const { settler } = settlerFor(context());
      const delivery = await delivered();
      // Handed to this consumer again, as a due retry is: delivery 2 is the current one.
      await bed.client.xclaim(S, G, ME, 0, delivery.entry.id);
      await settler.deadLetter(delivery, 'evt-s', 'NonRetryableError: stale');
      expect(await deadLetters()).toEqual([]);
      expect(await pending()).toEqual([[delivery.entry.id, ME, 2]]);
      expect(await settler.stillCurrent(delivery)).toBe(false);
      expect(await settler.stillCurrent({ ...delivery, delivery: 2 })).toBe(true);
      await settler.retry({ ...delivery, delivery: 2 }, 'evt-s', 100, 'Error: current');
      expect(await bed.client.zcard(KEYS.retries)).toBe(1);
    });

    it('acknowledges on the hot path in a batch, calls settledAck and reports the entry handled', async () => {
      const ctx = context();
      const events = recordEvents(ctx.events);
      const { settler, acked } = settlerFor(ctx);
      const first = await delivered('evt-1');
      const second = await delivered('evt-2');
      const job = (delivery: Delivery, eventId: string): Acking => ({
        id: delivery.entry.id,
        attempt: 1,
        eventId,
        durationMs: 12,
        tracked: false,
      });
      settler.acknowledge(job(first, 'evt-1'));
      settler.acknowledge(job(second, 'evt-2'));
      await waitFor(() => acked.length === 2, 'both acknowledgements', 5_000);
      expect(acked).toEqual([first.entry.id, second.entry.id]);
      expect(await pending()).toEqual([]);
      const handled = ({ entry }: Delivery, eventId: string) => ({
        stream: S,
        group: G,
        id: entry.id,
        eventId,
        attempt: 1,
        durationMs: 12,
        latencyMs: expect.any(Number),
      });
      expect(events).toEqual([
        ['handled', handled(first, 'evt-1')],
        ['handled', handled(second, 'evt-2')],
      ]);
      expect((events[0][1] as { latencyMs: number }).latencyMs).toBeGreaterThanOrEqual(0);
    });

    it('acknowledges a retried entry with its bookkeeping cleared', async () => {
      const { settler, acked } = settlerFor(context());
      const delivery = await delivered();
      await settler.retry(delivery, 'evt-s', 60_000, 'Error: first');
      settler.acknowledge({
        id: delivery.entry.id,
        attempt: 2,
        eventId: 'evt-s',
        durationMs: 1,
        tracked: true,
      });
      await waitFor(() => acked.length === 1, 'the acknowledgement', 5_000);
      expect(await pending()).toEqual([]);
      expect(await bed.client.zcard(KEYS.retries)).toBe(0);
      expect(await bed.client.hlen(KEYS.attempts)).toBe(0);
    });

    it('records an idempotent handler’s event as handled with its acknowledgement', async () => {
      const ctx = context({ idempotencyWindowMs: 60_000 });
      const claims = new EventClaims(ctx.redis, S, G, 10_000);
      const { settler, acked } = settlerFor(ctx, claims);
      const delivery = await delivered('evt-once');
      expect(await claims.claim(delivery.entry.id, 'evt-once')).toBe('run');
      settler.acknowledge({
        id: delivery.entry.id,
        attempt: 1,
        eventId: 'evt-once',
        durationMs: 1,
        tracked: false,
      });
      await waitFor(() => acked.length === 1, 'the acknowledgement', 5_000);
      const marker = streamKeys.done(S, G, 'evt-once');
      expect(await bed.client.get(marker)).toBe('1');
      expect(await bed.client.pttl(marker)).toBeGreaterThan(50_000);
      expect(claims.heldFor(delivery.entry.id)).toBeUndefined();
      expect(await pending()).toEqual([]);
    });

    it('hands entries back as retries due now, with the attempts they had', async () => {
      const ctx = context();
      const { settler } = settlerFor(ctx);
      const a = { ...(await delivered('evt-a')), attempt: 3 };
      const b = await delivered('evt-b');
      const now = Date.now();
      await settler.handBack([a, b], 'held and not started');
      expect(Number(await bed.client.zscore(KEYS.retries, a.entry.id))).toBeLessThanOrEqual(
        Date.now(),
      );
      expect(Number(await bed.client.zscore(KEYS.retries, b.entry.id))).toBeGreaterThanOrEqual(
        now - 1_000,
      );
      expect(await bed.client.hget(KEYS.attempts, a.entry.id)).toBe('2');
      expect(await bed.client.hget(KEYS.attempts, b.entry.id)).toBe('0');
      expect(ctx.logger.with('log', '2 entries held and not started handed back')).toHaveLength(1);
    });
  });

  describe('PartitionLease and FencedSettler', () => {
    const P = partitionStream('orders', 0);
    const leaseKey = streamKeys.lease(P, G);
    const LEASE_MS = 300;
    const acquire = async (consumer: string, leaseMs = 10_000): Promise<string> => {
      const token = await ACQUIRE_LEASE.run<number>(
        bed.client,
        [leaseKey, streamKeys.fence(P, G)],
        [consumer, leaseMs],
      );
      expect(token).toBeGreaterThan(0);
      return `${consumer}|${token}`;
    };
    const fenced = (
      holder: string,
      ctx = context(),
      leaseValid = (): boolean => true,
    ): { settler: FencedSettler; errors: string[] } => {
      const errors: string[] = [];
      const settler = new FencedSettler(ctx, P, leaseKey, holder, leaseValid, (message) =>
        errors.push(message),
      );
      return { settler, errors };
    };
    /** Two entries of the partition delivered to `ME`. */
    const twoDelivered = async (): Promise<RawEntry[]> => {
      await createGroup(P);
      const ids = [
        await append('evt-1', { message: 'a' }, P),
        await append('evt-2', { message: 'b' }, P),
      ];
      await deliver(ME, 2, P);
      return Promise.all(ids.map((id) => textEntry(id, P)));
    };
    const lease = (
      redis: () => RedisClient,
      holder: string,
    ): {
      lease: PartitionLease;
      lost: () => number;
      renewed: () => number;
      errors: string[];
      logger: RecordingLogger;
    } => {
      let lost = 0;
      let renewed = 0;
      const errors: string[] = [];
      const logger = new RecordingLogger('x');
      const made = new PartitionLease(
        redis,
        leaseKey,
        holder,
        LEASE_MS,
        0,
        logger,
        () => (renewed += 1),
        () => (lost += 1),
        (message) => errors.push(message),
      );
      cleanups.push(() => made.stop());
      return { lease: made, lost: () => lost, renewed: () => renewed, errors, logger };
    };

    it('the lease holder acknowledges and dead-letters under its lease', async () => {
      const [a, b] = await twoDelivered();
      const { settler } = fenced(await acquire(ME));
      await settler.acknowledge(a.id);
      expect((await pending(P)).map(([id]) => id)).toEqual([b.id]);
      await settler.deadLetter(b, 3, 'gave up after 3 attempts: Error: boom');
      expect(await pending(P)).toEqual([]);
      expect(await deadLetters(P)).toEqual([
        expect.objectContaining({
          eventId: 'evt-2',
          [DLQ_FIELD.error]: 'gave up after 3 attempts: Error: boom',
          [DLQ_FIELD.attempts]: '3',
          [DLQ_FIELD.originalId]: b.id,
          [DLQ_FIELD.stream]: P,
        }),
      ]);
    });

    it('records an idempotent handler’s event as handled with the fenced acknowledgement', async () => {
      const [a] = await twoDelivered();
      const { settler } = fenced(await acquire(ME), context({ idempotencyWindowMs: 60_000 }));
      await settler.acknowledge(a.id, 'evt-1');
      expect(await bed.client.get(streamKeys.done(P, G, 'evt-1'))).toBe(`done:${a.id}`);
    });

    it('refuses a holder whose lease another took: LostLeaseError, and the entry stays pending', async () => {
      const [a, b] = await twoDelivered();
      const { settler, errors } = fenced(await acquire(ME));
      // Our lease lapsed and another instance took the partition, with a higher token.
      await bed.client.del(leaseKey);
      const theirs = await acquire('c2');
      expect(theirs).toBe('c2|2');
      await expect(settler.acknowledge(a.id)).rejects.toBeInstanceOf(LostLeaseError);
      await expect(settler.deadLetter(b, 1, 'NonRetryableError: x')).rejects.toBeInstanceOf(
        LostLeaseError,
      );
      expect(await pending(P)).toEqual([
        [a.id, ME, 1],
        [b.id, ME, 1],
      ]);
      expect(await deadLetters(P)).toEqual([]);
      // A refusal is an answer, not a failure to try again.
      expect(errors).toEqual([]);
    });

    it('repeats a write Redis did not take while the lease may be ours', async () => {
      const [a] = await twoDelivered();
      const holder = await acquire(ME);
      let failures = 2;
      const ctx = context({}, () => (failures-- > 0 ? dead : bed.client));
      const { settler, errors } = fenced(holder, ctx);
      await settler.acknowledge(a.id);
      expect(errors).toHaveLength(2);
      expect((await pending(P)).map(([id]) => id)).not.toContain(a.id);
    });

    it('gives a failing write up with LostLeaseError once the lease may have lapsed', async () => {
      const [a] = await twoDelivered();
      const { settler, errors } = fenced(
        await acquire(ME),
        context({}, () => dead),
        () => false,
      );
      await expect(settler.acknowledge(a.id)).rejects.toBeInstanceOf(LostLeaseError);
      expect(errors).toHaveLength(1);
      expect(await pending(P)).toHaveLength(2);
    });

    it('renews the lease while it runs, past its own length', async () => {
      const holder = await acquire(ME, LEASE_MS);
      const made = lease(() => bed.client, holder);
      made.lease.start();
      await sleep(LEASE_MS * 2.5);
      expect(await bed.client.get(leaseKey)).toBe(holder);
      expect(made.renewed()).toBeGreaterThanOrEqual(3);
      expect(made.lease.valid).toBe(true);
      expect(made.lost()).toBe(0);
    });

    it('calls lost() once when another holder takes the lease key, and stops renewing', async () => {
      const holder = await acquire(ME, LEASE_MS);
      const made = lease(() => bed.client, holder);
      made.lease.start();
      await waitFor(() => made.renewed() >= 1, 'a renewal', 2_000);
      await bed.client.set(leaseKey, 'c2|99', 'PX', 10_000);
      await waitFor(() => made.lost() === 1, 'lost()', 2_000);
      const renewals = made.renewed();
      await sleep(LEASE_MS);
      expect(made.lost()).toBe(1);
      expect(made.renewed()).toBe(renewals);
      // The new holder's lease is left alone.
      expect(await bed.client.get(leaseKey)).toBe('c2|99');
      expect(made.logger.with('warn', 'Lost the lease of partition 0')).toHaveLength(1);
    });

    it('calls lost() once Redis could not renew the lease in time, and is no longer valid', async () => {
      const holder = await acquire(ME, LEASE_MS);
      const made = lease(() => dead, holder);
      made.lease.start();
      expect(made.lease.valid).toBe(true);
      await waitFor(() => made.lost() === 1, 'lost()', 2_000);
      expect(made.lease.valid).toBe(false);
      expect(made.errors[0]).toMatch(/^lease renewal failed: /);
      expect(made.logger.with('warn', 'Could not renew the lease of partition 0')).toHaveLength(1);
    });

    it('gives back only its own lease', async () => {
      const holder = await acquire(ME);
      await lease(() => bed.client, holder).lease.release();
      expect(await bed.client.exists(leaseKey)).toBe(0);
      await bed.client.set(leaseKey, 'c2|5', 'PX', 10_000);
      await lease(() => bed.client, holder).lease.release();
      expect(await bed.client.get(leaseKey)).toBe('c2|5');
    });
  });

  describe('PartitionReader', () => {
    const P = partitionStream('orders', 1);
    const leaseKey = streamKeys.lease(P, G);

    const readerFor = async (): Promise<{
      reader: PartitionReader;
      ctx: ConsumerContext & { logger: RecordingLogger };
    }> => {
      const connections = new RedisConnections({ url: bed.redis.url, consumerName: ME });
      cleanups.push(() => connections.onApplicationShutdown());
      const token = await ACQUIRE_LEASE.run<number>(
        bed.client,
        [leaseKey, streamKeys.fence(P, G)],
        [ME, 10_000],
      );
      const ctx = context();
      const reader = new PartitionReader(ctx, connections, P, 1, leaseKey, `${ME}|${token}`);
      reader.open();
      cleanups.push(() => reader.close());
      await connections.whenReady(connections.command, 5_000);
      await reader.position.ensure(connections.command);
      return { reader, ctx };
    };
    const ids = (entries: Array<{ entry: RawEntry }>): string[] =>
      entries.map(({ entry }) => entry.id);

    it("takes over others' pending entries, oldest first, counting an attempt only for the oldest", async () => {
      const { reader } = await readerFor();
      const [a, b, c] = [
        await append('a', { message: 'a' }, P),
        await append('b', { message: 'b' }, P),
        await append('c', { message: 'c' }, P),
      ];
      await deliver('former', 2, P);
      await deliver('other', 1, P);
      const taken = await reader.takeOverPending();
      expect(taken).not.toBeNull();
      expect(ids(taken!.entries)).toEqual([a, b, c]);
      // Only the oldest may have been running at the former owner.
      expect(taken!.entries.map(({ attempt }) => attempt)).toEqual([2, 1, 1]);
      expect(taken!.drained).toBe(false);
      expect((await pending(P)).map(([, owner]) => owner)).toEqual([ME, ME, ME]);
      await bed.client.xack(P, G, a, b, c);
      expect(await reader.takeOverPending()).toEqual({ entries: [], drained: true });
    });

    it('drops pending entries deleted from the stream, and says so', async () => {
      const { reader, ctx } = await readerFor();
      const [a, b] = [
        await append('a', { message: 'a' }, P),
        await append('b', { message: 'b' }, P),
      ];
      await deliver('former', 2, P);
      await bed.client.xdel(P, a);
      const taken = await reader.takeOverPending();
      expect(ids(taken!.entries)).toEqual([b]);
      expect(ctx.logger.with('warn', `deleted from the stream: ${a}`)).toHaveLength(1);
    });

    it('takes over nothing when the lease is no longer ours', async () => {
      const { reader } = await readerFor();
      await append('a', { message: 'a' }, P);
      await deliver('former', 1, P);
      await bed.client.set(leaseKey, 'c2|9');
      expect(await reader.takeOverPending()).toBeNull();
      expect((await pending(P)).map(([, owner]) => owner)).toEqual(['former']);
    });

    it('reads new entries in order, as first attempts', async () => {
      const { reader } = await readerFor();
      const [a, b] = [
        await append('a', { message: 'a' }, P),
        await append('b', { message: 'b' }, P),
      ];
      const read = await reader.readNew();
      expect(read.stranded).toBe(false);
      expect(ids(read.entries)).toEqual([a, b]);
      expect(read.entries.map(({ attempt }) => attempt)).toEqual([1, 1]);
    });

    it('reads nothing, not stranded, once the BLOCK ends on a quiet partition', async () => {
      const { reader } = await readerFor();
      expect(await reader.readNew()).toEqual({ entries: [], stranded: false });
    });

    it('reports stranded when something else is pending, and the take-over then gets it first', async () => {
      const { reader, ctx } = await readerFor();
      const lost = await append('lost', { message: 'a' }, P);
      // Delivered by a read whose reply nobody received.
      await deliver('former', 1, P);
      const fresh = await append('fresh', { message: 'b' }, P);
      expect(await reader.readNew()).toEqual({ entries: [], stranded: true });
      expect(
        ctx.logger.with('warn', 'pending entries that no read of this owner returned'),
      ).toHaveLength(1);
      const taken = await reader.takeOverPending();
      expect(ids(taken!.entries)).toEqual([lost, fresh]);
    });
  });

  describe('GroupReader', () => {
    it('reads new entries, with queued acknowledgements leaving on the same read', async () => {
      const connections = new RedisConnections({ url: bed.redis.url, consumerName: ME });
      cleanups.push(() => connections.onApplicationShutdown());
      const ctx = context();
      const capacity = new Capacity(4, 0);
      const settler = new GroupSettler(ctx, undefined, unexpected, () => undefined);
      const gate = new FlowGate(ctx, ctx.definition.flow, () => undefined);
      const reader = new GroupReader(ctx, connections, settler.acks, capacity, gate);
      reader.open();
      cleanups.push(() => reader.close());
      await reader.whenReady();
      await reader.position.ensure(connections.command);
      const [a, b] = [await append('a', { message: 'a' }), await append('b', { message: 'b' })];

      const first = reader.send(4);
      // The read counts against the room until its reply is in.
      expect(capacity.room()).toBe(0);
      const entries = await reader.receive(first);
      expect(capacity.room()).toBe(4);
      expect(entries).not.toBe('lost');
      expect((entries as RawEntry[]).map(({ id }) => id)).toEqual([a, b]);
      expect((await pending()).map(([id]) => id)).toEqual([a, b]);

      settler.acks.holdForRead();
      const acked = settler.acks.ack(a);
      const second = reader.send(4);
      await acked;
      expect(await reader.receive(second)).toEqual([]);
      expect((await pending()).map(([id]) => id)).toEqual([b]);
    });
  });

  describe('LeaseKeeper', () => {
    it('resets the idle time of what this consumer owns or holds, not more often than due', async () => {
      await createGroup();
      const [a, b, c] = [
        await append('a', { message: 'a' }),
        await append('b', { message: 'b' }),
        await append('c', { message: 'c' }),
      ];
      await deliver(ME, 2);
      await deliver('c2', 1);
      const ctx = context();
      const capacity = new Capacity(4, 4);
      capacity.start(a);
      capacity.held.push({ entry: await textEntry(b), attempt: 1, tracked: false });
      const keeper = new LeaseKeeper(ctx, capacity, undefined);
      await sleep(150);
      const idle = async (): Promise<Record<string, number>> => {
        const rows = (await bed.client.xpending(S, G, '-', '+', 10)) as Array<
          [string, string, number]
        >;
        return Object.fromEntries(rows.map(([id, , ms]) => [id, ms]));
      };
      await keeper.renewIfDue(Date.now());
      const after = await idle();
      expect(after[a]).toBeLessThan(100);
      expect(after[b]).toBeLessThan(100);
      // Another consumer's entry is not ours to keep.
      expect(after[c]).toBeGreaterThanOrEqual(150);
      await sleep(150);
      // claimMinIdleMs 1000: renewed at most every 333 ms.
      await keeper.renewIfDue(Date.now());
      expect((await idle())[a]).toBeGreaterThanOrEqual(150);
    });
  });

  describe('OldWork', () => {
    const oldWork = (
      ctx: ConsumerContext,
      capacity: Capacity,
    ): { work: OldWork; dispatched: Array<[Delivery, boolean]> } => {
      const dispatched: Array<[Delivery, boolean]> = [];
      const gate = new FlowGate(ctx, ctx.definition.flow, () => undefined);
      const work = new OldWork(ctx, capacity, gate, 25, (delivery, afterCurrent) => {
        capacity.start(delivery.entry.id);
        dispatched.push([delivery, afterCurrent]);
      });
      return { work, dispatched };
    };

    it("takes back a previous run's own pending entries first, counting the attempt it may have spent", async () => {
      await createGroup();
      const [a, b] = [await append('a', { message: 'a' }), await append('b', { message: 'b' })];
      await deliver(ME, 2);
      // Delivered in an earlier millisecond than this run begins: a previous run's.
      await sleep(5);
      const ctx = context();
      const { work, dispatched } = oldWork(ctx, new Capacity(4, 0));
      await work.recoverOwn(() => false);
      expect(dispatched.map(([d]) => [d.entry.id, d.attempt, d.tracked])).toEqual([
        [a, 2, true],
        [b, 2, true],
      ]);
      expect(work.ownPending.unknown).toBe(false);
    });

    it('takes due retries into free slots, as the next attempt of a new delivery', async () => {
      await createGroup();
      const id = await append('a', { message: 'a' });
      await deliver(ME, 1);
      await sleep(5);
      const ctx = context();
      const settler = new GroupSettler(ctx, undefined, unexpected, () => undefined);
      const events = recordEvents(ctx.events);
      const capacity = new Capacity(4, 0);
      const { work, dispatched } = oldWork(ctx, capacity);
      await work.recoverOwn(() => false);
      // The recovered entry fails its attempt: a retry is due at once.
      const [[recovered]] = dispatched.splice(0);
      capacity.finish(id);
      await settler.retry(recovered, 'a', 0, 'Error: boom');
      await work.take(false, unexpected);
      expect(dispatched).toEqual([
        [expect.objectContaining({ attempt: 3, tracked: true, delivery: 3 }), true],
      ]);
      expect(events).toContainEqual(['retried', { stream: S, group: G, count: 1 }]);
      expect(await pending()).toEqual([[id, ME, 3]]);
    });

    it('reclaims entries a stopped consumer left idle, with the attempt it spent', async () => {
      await createGroup();
      const id = await append('a', { message: 'a' });
      await deliver('stopped', 1);
      const ctx = context();
      ctx.runtime.claimMinIdleMs = 100;
      const { work, dispatched } = oldWork(ctx, new Capacity(4, 0));
      await work.recoverOwn(() => false);
      await sleep(150);
      await work.take(false, unexpected);
      expect(dispatched).toEqual([
        [expect.objectContaining({ attempt: 2, tracked: true, delivery: 2 }), false],
      ]);
      expect(await pending()).toEqual([[id, ME, 2]]);
    });

    it('claims nothing while no slot is free', async () => {
      await createGroup();
      await append('a', { message: 'a' });
      await deliver('stopped', 1);
      const ctx = context({ concurrency: 1 });
      ctx.runtime.claimMinIdleMs = 100;
      const capacity = new Capacity(1, 0);
      const { work, dispatched } = oldWork(ctx, capacity);
      await work.recoverOwn(() => false);
      capacity.start('busy');
      await sleep(150);
      await work.take(false, unexpected);
      expect(dispatched).toEqual([]);
      expect((await pending()).map(([, owner]) => owner)).toEqual(['stopped']);
    });
  });
});
