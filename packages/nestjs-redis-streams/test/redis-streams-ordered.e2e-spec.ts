import type { INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { StreamPublisher, streamKeys } from '../src/index.js';
import { InOrder, InOrderOnce, startOrdered } from './support/ordered-probe.js';
import { PROBE, Probe, toRecord } from './support/stream-probe.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { sleep, waitFor } from './support/wait-for.js';

/** `ordered: true` on one Redis: the same scripts as on Cluster, without the shards. */
describe('RedisStreamsModule ordered handlers', () => {
  const bed = streamsTestbed();
  let client: Redis;
  const LEASE = streamKeys.lease('orders:{0}', 'in-order');

  const start = (probe: Probe, consumerName: string): Promise<INestApplication> =>
    startOrdered(bed, probe, { consumerName, partitionLeaseMs: 600 });

  beforeAll(() => {
    client = bed.client;
  });

  it('retries a failing entry in place, holding back the next ones, then dead-letters it', async () => {
    const probe = new Probe();
    probe.behaviour = ({ payload }) => {
      if ((payload as { n: number }).n === 1) throw new Error('the receiver is down');
    };
    const app = await start(probe, 'a');
    await app.get(StreamPublisher).publishMany(
      'orders',
      [1, 2, 3].map((n) => ({ payload: { n }, partitionKey: 'same-key' })),
    );

    await waitFor(() => probe.calls.length === 5, 'five calls');
    expect(probe.calls.map((c) => (c.payload as { n: number }).n)).toEqual([1, 1, 1, 2, 3]);
    expect(probe.calls.map((c) => c.message.attempt)).toEqual([1, 2, 3, 1, 1]);
    expect(probe.calls[0].message).toMatchObject({ partition: 0, stream: 'orders:{0}' });
    expect(probe.calls[0].message.fencingToken).toBeGreaterThan(0);

    const [[, fields]] = await client.xrange('orders:{0}:dlq', '-', '+');
    expect(toRecord(fields)).toMatchObject({
      'dlq-error': 'gave up after 3 attempts: Error: the receiver is down',
      'dlq-stream': 'orders:{0}',
      'dlq-group': 'in-order',
    });
    await waitFor(
      async () => Number(((await client.xpending('orders:{0}', 'in-order')) as [number])[0]) === 0,
      'nothing pending',
    );
  });

  it('refuses the acknowledgement of an owner whose lease was taken, and the next owner handles the entry again', async () => {
    const first = new Probe();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    first.behaviour = () => gate;
    const app = await start(first, 'a');
    await app.get(StreamPublisher).publish('orders', { n: 1 }, { partitionKey: 'k' });
    await waitFor(() => first.calls.length === 1, 'the first call');
    const token = first.calls[0].message.fencingToken!;

    // Someone else holds the partition now (as after a pause longer than the lease).
    await client.set(LEASE, `intruder|${token + 1}`, 'PX', 400);
    await client.set(streamKeys.fence('orders:{0}', 'in-order'), String(token + 1));
    release();
    await sleep(300);
    // The acknowledgement was refused: the entry is still pending, the handler's work will be redone.
    expect(Number(((await client.xpending('orders:{0}', 'in-order')) as [number])[0])).toBe(1);

    // The intruder's lease lapses; the rightful group takes the partition back with a new token.
    const second = new Probe();
    await start(second, 'b');
    const retaken = () => [...first.calls.slice(1), ...second.calls];
    await waitFor(() => retaken().length >= 1, 'the entry to be handled again', 10_000);
    const again = retaken()[0];
    expect(again.payload).toEqual({ n: 1 });
    expect(again.message.fencingToken).toBeGreaterThan(token + 1);
    expect(again.message.attempt).toBe(2);
    await waitFor(
      async () => Number(((await client.xpending('orders:{0}', 'in-order')) as [number])[0]) === 0,
      'the acknowledgement under the new lease',
    );
  });

  describe('with idempotent', () => {
    const startOnce = (probe: Probe): Promise<INestApplication> =>
      startOrdered(bed, probe, { partitionLeaseMs: 1_000 }, [InOrderOnce]);
    /** Appended as another producer would, without the publisher's de-duplication. */
    const append = (eventId: string, n: number): Promise<string | null> =>
      client.xadd('orders:{0}', '*', 'eventId', eventId, 'payload', JSON.stringify({ n }));
    const numbers = (probe: Probe): number[] =>
      probe.calls.map((c) => (c.payload as { n: number }).n);
    const nothingPending = (): Promise<boolean> =>
      waitFor(
        async () =>
          Number(((await client.xpending('orders:{0}', 'in-order-once')) as [number])[0]) === 0,
        'nothing pending',
      );

    it('runs the handler once per eventId, acknowledging the second entry of an event unhandled', async () => {
      await append('ev-1', 1);
      await append('ev-1', 2);
      await append('ev-3', 3);
      const probe = new Probe();
      await startOnce(probe);
      await waitFor(() => probe.calls.length >= 2, 'two calls');
      await nothingPending();
      await sleep(300);
      expect(numbers(probe)).toEqual([1, 3]);
      expect(await client.get(streamKeys.done('orders:{0}', 'in-order-once', 'ev-3'))).toMatch(
        /^done:/,
      );
    });

    it('waits in place while another entry of the same event runs, holding back the next ones', async () => {
      // A former owner is still running another entry of ev-1: its marker lives for 1.5 s more.
      await client.set(
        streamKeys.done('orders:{0}', 'in-order-once', 'ev-1'),
        'running:1-1',
        'PX',
        1_500,
      );
      await append('ev-1', 1);
      await append('ev-2', 2);
      const probe = new Probe();
      const startedAt = Date.now();
      await startOnce(probe);
      await waitFor(() => probe.calls.length >= 2, 'both handled', 10_000);
      expect(probe.calls[0].at - startedAt).toBeGreaterThanOrEqual(1_000);
      expect(numbers(probe)).toEqual([1, 2]);
      // Waiting for the other delivery spent no attempt.
      expect(probe.calls.map((c) => c.message.attempt)).toEqual([1, 1]);
      await nothingPending();
    });

    it('lets a later entry of an event run after the first one was dead-lettered', async () => {
      const probe = new Probe();
      probe.behaviour = ({ payload }) => {
        if ((payload as { n: number }).n === 1) throw new Error('the receiver refused it');
      };
      await append('ev-1', 1);
      await append('ev-1', 2);
      await startOnce(probe);
      await waitFor(() => probe.calls.length >= 4, 'three attempts, then the second entry');
      await nothingPending();
      expect(numbers(probe)).toEqual([1, 1, 1, 2]);
      expect(await client.xlen('orders:{0}:dlq')).toBe(1);
    });
  });

  it('refuses ordered on a stream that is not partitioned', async () => {
    await expect(
      bed.start({ consumerName: 'a' }, [{ provide: PROBE, useValue: new Probe() }, InOrder]),
    ).rejects.toThrow(/ordered needs a partitioned stream/);
  });
});
