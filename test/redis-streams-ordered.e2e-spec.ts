import { Inject, Injectable, type INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import {
  StreamHandler,
  StreamPublisher,
  streamKeys,
  type StreamMessage,
} from '../src/redis-streams/index.js';
import { PROBE, Probe, toRecord } from './support/stream-probe.js';
import { startStreamsApp } from './support/streams-app.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { sleep, waitFor } from './support/wait-for.js';

@Injectable()
class InOrder {
  constructor(@Inject(PROBE) private readonly probe: Probe) {}

  @StreamHandler('orders', { group: 'in-order', ordered: true })
  handle(payload: unknown, message: StreamMessage): unknown {
    return this.probe.record('in-order', payload, message);
  }
}

/** `ordered: true` on one Redis: the same scripts as on Cluster, without the shards. */
describe('RedisStreamsModule ordered handlers', () => {
  const bed = streamsTestbed();
  let client: Redis;
  const LEASE = streamKeys.lease('orders:{0}', 'in-order');

  const start = (probe: Probe, consumerName: string): Promise<INestApplication> =>
    bed.start(
      {
        consumerName,
        partitions: { orders: 1 },
        partitionLeaseMs: 600,
        handlerDefaults: { blockMs: 100, maxAttempts: 3, backoff: { baseMs: 50, maxMs: 100 } },
      },
      [{ provide: PROBE, useValue: probe }, InOrder],
    );

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
      'dlq-error': 'gave up after 3 attempts: the receiver is down',
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

  it('refuses ordered on a stream that is not partitioned', async () => {
    await expect(
      startStreamsApp({ url: bed.redis.url, consumerName: 'a' }, [
        { provide: PROBE, useValue: new Probe() },
        InOrder,
      ]),
    ).rejects.toThrow(/ordered needs a partitioned stream/);
  });
});
