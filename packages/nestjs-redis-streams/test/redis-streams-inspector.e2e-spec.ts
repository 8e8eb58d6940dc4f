import type { INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { DeadLetters, StreamInspector, UnknownStreamError } from '../src/index.js';
import { FirstHandler, PROBE, Probe, SecondHandler } from './support/stream-probe.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { waitFor } from './support/wait-for.js';

/** What operators see and repair: groups, pending entries, dead letters, replay. */
describe('StreamInspector and DeadLetters', () => {
  const bed = streamsTestbed();
  let client: Redis;
  let app: INestApplication;
  let inspector: StreamInspector;
  let deadLetters: DeadLetters;
  const probe = new Probe();

  beforeAll(async () => {
    client = bed.client;
    probe.behaviour = (call) => {
      if (
        (call.payload as { message: string }).message.startsWith('bad') &&
        call.message.group === 'first'
      ) {
        throw new Error(`refused ${(call.payload as { message: string }).message}`);
      }
    };
    app = await bed.start(
      {
        consumerName: 'c1',
        claimMinIdleMs: 60_000,
        handlerDefaults: { blockMs: 100, maxAttempts: 1, backoff: { baseMs: 10, maxMs: 10 } },
      },
      [{ provide: PROBE, useValue: probe }, FirstHandler, SecondHandler],
    );
    inspector = app.get(StreamInspector);
    deadLetters = app.get(DeadLetters);
  });

  it('lists the handled streams with their groups, consumers, lag and pending', async () => {
    for (let i = 0; i < 5; i++) await client.xadd('orders', '*', 'message', `good-${i}`);
    await waitFor(() => probe.calls.length === 10, 'both groups to handle five entries');
    await waitFor(
      async () => (await inspector.stream('orders')).groups.every((g) => g.pending === 0),
      'acks',
    );
    expect(inspector.knownStreams()).toEqual(['orders']);
    const [info] = await inspector.streams();
    expect(info).toMatchObject({
      stream: 'orders',
      length: 5,
      deadLetter: { stream: 'orders:dlq', length: 0 },
    });
    expect(info.groups.map((g) => g.name).sort()).toEqual(['first', 'second']);
    for (const group of info.groups) {
      expect(group).toMatchObject({ pending: 0, lag: 0, oldestPendingAgeMs: null });
      expect(group.consumers).toEqual([expect.objectContaining({ name: 'c1', pending: 0 })]);
    }
  });

  it('shows pending entries with idle time and deliveries, page by page', async () => {
    await client.xgroup('CREATE', 'orders', 'manual', '$');
    for (let i = 0; i < 3; i++) await client.xadd('orders', '*', 'message', `p-${i}`);
    await client.xreadgroup('GROUP', 'manual', 'someone', 'COUNT', 10, 'STREAMS', 'orders', '>');
    const first = await inspector.pending('orders', 'manual', '-', 2);
    expect(first.items).toHaveLength(2);
    expect(first.items[0]).toMatchObject({ consumer: 'someone', deliveries: 1 });
    expect(first.items[0].idleMs).toBeGreaterThanOrEqual(0);
    const second = await inspector.pending('orders', 'manual', first.next, 2);
    expect(second.items).toHaveLength(1);
    expect(second.next).toBeUndefined();
    const info = await inspector.stream('orders');
    expect(info.groups.find((g) => g.name === 'manual')).toMatchObject({ pending: 3 });
    await client.xgroup('DESTROY', 'orders', 'manual');
  });

  it('lists dead letters newest first with their reason, filters them, and replays each once', async () => {
    probe.calls = [];
    // One at a time: entries handled concurrently may reach the dead letters in any order.
    for (let i = 0; i < 4; i++) {
      await client.xadd('orders', '*', 'eventId', `bad-${i}`, 'message', `bad-${i}`);
      await waitFor(async () => (await client.xlen('orders:dlq')) === i + 1, `dead letter ${i}`);
    }
    const page1 = await inspector.deadLetters('orders', '+', 3);
    expect(page1.items.map((l) => l.eventId)).toEqual(['bad-3', 'bad-2', 'bad-1']);
    expect(page1.items[0]).toMatchObject({
      group: 'first',
      attempts: 1,
      fields: { eventId: 'bad-3', message: 'bad-3' },
    });
    expect(page1.items[0].error).toContain('refused bad-3');
    const page2 = await inspector.deadLetters('orders', page1.next, 3);
    expect(page2.items.map((l) => l.eventId)).toEqual(['bad-0']);
    expect(page2.next).toBeUndefined();
    const filtered = await inspector.deadLetters('orders', '+', 10, {
      errorContains: 'REFUSED BAD-2',
    });
    expect(filtered.items.map((l) => l.eventId)).toEqual(['bad-2']);

    // Make the handler accept them now, then replay one twice at once: one new entry.
    probe.behaviour = () => undefined;
    const target = page1.items[0].id;
    const [a, b] = await Promise.all([
      deadLetters.replay('orders', [target]),
      deadLetters.replay('orders', [target]),
    ]);
    expect(a.replayed.length + b.replayed.length).toBe(1);
    expect(a.missing.length + b.missing.length).toBe(1);
    await waitFor(
      () => probe.calls.some((c) => c.message.eventId === 'bad-3' && c.message.group === 'first'),
      'the replay',
    );
    const [[, fields]] = await client.xrevrange('orders', '+', '-', 'COUNT', 1);
    expect(fields.some((f) => f.startsWith('dlq-'))).toBe(false);

    const rest = await deadLetters.replayMatching('orders', { group: 'first' });
    expect(rest.replayed).toHaveLength(3);
    await waitFor(
      async () => (await client.xlen('orders:dlq')) === 0,
      'an empty dead-letter stream',
    );
    expect((await deadLetters.replayMatching('orders', {})).replayed).toHaveLength(0);
  });

  it('deletes dead letters and refuses streams it does not handle', async () => {
    probe.behaviour = (call) => {
      if (call.message.group === 'first') throw new Error('again');
    };
    await client.xadd('orders', '*', 'message', 'bad-x');
    await waitFor(async () => (await client.xlen('orders:dlq')) === 1, 'a dead letter');
    const [letter] = (await inspector.deadLetters('orders')).items;
    expect(await deadLetters.delete('orders', [letter.id])).toBe(1);
    expect(await client.xlen('orders:dlq')).toBe(0);
    await expect(inspector.stream('secrets')).rejects.toThrow(UnknownStreamError);
    await expect(inspector.deadLetters('orders', 'not-an-id')).rejects.toThrow(RangeError);
  });
});
