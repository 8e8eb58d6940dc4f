import { Inject, Injectable, type INestApplication } from '@nestjs/common';
import { Redis } from 'ioredis';
import {
  RedisConnections,
  StreamHandler,
  StreamPublisher,
  partitionStream,
  type RedisStreamsModuleOptions,
  type StreamMessage,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { TestRedisCluster } from '../support/redis-cluster.js';
import { PROBE, Probe } from '../support/stream-probe.js';
import { startStreamsApp } from '../support/streams-app.js';
import { sleep, waitFor } from '../support/wait-for.js';

const PARTITIONS = 6;

interface Event {
  key: string;
  seq: number;
}

@Injectable()
class UnorderedHandler {
  constructor(@Inject(PROBE) private readonly probe: Probe) {}

  @StreamHandler('orders', { group: 'any', concurrency: 32, batchSize: 64 })
  handle(payload: Event, message: StreamMessage): unknown {
    return this.probe.record('any', payload, message);
  }
}

@Injectable()
class OrderedHandler {
  constructor(@Inject(PROBE) private readonly probe: Probe) {}

  @StreamHandler('orders', { group: 'in-order', ordered: true, batchSize: 20 })
  handle(payload: Event, message: StreamMessage): unknown {
    return this.probe.record('in-order', payload, message);
  }
}

function report(figures: Record<string, unknown>): void {
  process.stdout.write(`[partitions] ${JSON.stringify(figures)}\n`);
}

/**
 * For each key, the sequence numbers in the order the handler saw them. Ordered means: no event
 * is seen before every earlier one of its key was seen (a redelivery may repeat some, never skip).
 */
function orderViolations(calls: Array<{ payload: unknown }>): string[] {
  const highest = new Map<string, number>();
  const problems: string[] = [];
  for (const { payload } of calls) {
    const { key, seq } = payload as Event;
    const seen = highest.get(key) ?? 0;
    if (seq > seen + 1) problems.push(`${key}: ${seq} after ${seen}`);
    highest.set(key, Math.max(seen, seq));
  }
  return problems;
}

describe('partitioned streams on a 3+3 Redis Cluster', () => {
  let cluster: TestRedisCluster;
  const apps: INestApplication[] = [];

  const start = async (
    probe: Probe,
    handler: typeof UnorderedHandler | typeof OrderedHandler,
    consumerName: string,
    extra: Partial<RedisStreamsModuleOptions> = {},
  ): Promise<INestApplication> => {
    const app = await startStreamsApp(
      {
        connection: { mode: 'cluster', nodes: cluster.startupNodes },
        consumerName,
        claimMinIdleMs: 2_000,
        partitions: { orders: PARTITIONS },
        partitionLeaseMs: 1_000,
        handlerDefaults: { blockMs: 200, maxAttempts: 3, backoff: { baseMs: 50, maxMs: 200 } },
        ...extra,
      },
      [{ provide: PROBE, useValue: probe }, handler],
    );
    apps.push(app);
    return app;
  };

  const close = async (app: INestApplication): Promise<void> => {
    apps.splice(apps.indexOf(app), 1);
    await app.close();
  };

  beforeAll(async () => {
    cluster = await TestRedisCluster.start({ masters: 3, replicasPerMaster: 1 });
  }, 40_000);

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    for (const port of await cluster.masters()) {
      const node = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
      await node.flushall();
      node.disconnect();
    }
  });

  afterAll(async () => {
    await cluster?.destroy();
  });

  it('spreads the partitions over the shards and handles every event once', async () => {
    const masters = new Set(
      await Promise.all(
        Array.from({ length: PARTITIONS }, (_, p) =>
          cluster.masterForKey(partitionStream('orders', p)),
        ),
      ),
    );
    expect(masters.size).toBeGreaterThanOrEqual(2);

    const probe = new Probe();
    const app = await start(probe, UnorderedHandler, 'c1');
    const publisher = app.get(StreamPublisher);
    const results = await publisher.publishMany(
      'orders',
      Array.from({ length: 600 }, (_, i) => ({
        payload: { key: `k${i % 30}`, seq: i },
        partitionKey: `k${i % 30}`,
      })),
    );
    // The same key always lands in the same partition.
    const partitionOfKey = new Map<string, string>();
    results.forEach((result, i) => {
      const key = `k${i % 30}`;
      expect(partitionOfKey.get(key) ?? result.stream).toBe(result.stream);
      partitionOfKey.set(key, result.stream);
    });
    const used = new Set(results.map((r) => r.stream));
    expect(used.size).toBe(PARTITIONS);

    await waitFor(() => probe.calls.length >= 600, 'every event', 20_000);
    await sleep(300);
    const seqs = probe.calls.map((c) => (c.payload as Event).seq);
    expect(new Set(seqs).size).toBe(600);
    expect(seqs).toHaveLength(600);
    report({ partitionsOnMasters: masters.size });
  }, 60_000);

  it('spreads the Redis work over the shards, so the ceiling grows with them', async () => {
    // Twelve partitions: slots are placed by hash, so more partitions even out the shards.
    const partitions = 12;
    const app = await start(new Probe(), UnorderedHandler, 'c1', {
      consumersEnabled: false,
      partitions: { orders: partitions },
    });
    const publisher = app.get(StreamPublisher);
    const masters = await cluster.masters();
    const placement = new Map<number, number>();
    for (let p = 0; p < partitions; p++) {
      const port = await cluster.masterForKey(partitionStream('orders', p));
      placement.set(port, (placement.get(port) ?? 0) + 1);
    }
    // What an even split of the work by partition would give: all partitions / the busiest shard's.
    const placementGain = partitions / Math.max(...placement.values());
    const onMasters = async <T>(run: (node: Redis) => Promise<T>): Promise<T[]> =>
      Promise.all(
        masters.map(async (port) => {
          const node = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
          try {
            return await run(node);
          } finally {
            node.disconnect();
          }
        }),
      );
    /**
     * Per master since the reset (INFO commandstats, which counts what scripts call too): the
     * microseconds spent running commands, and the XADDs it ran.
     */
    const work = async (): Promise<Array<{ micros: number; xadds: number }>> =>
      onMasters(async (node) => {
        const stats = await node.info('commandstats');
        return {
          micros: [...stats.matchAll(/usec=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0),
          xadds: Number(/cmdstat_xadd:calls=(\d+)/.exec(stats)?.[1] ?? 0),
        };
      });
    const events = 24_000;
    const measure = async (stream: string, keyed: boolean) => {
      await onMasters((node) => node.config('RESETSTAT'));
      const started = performance.now();
      for (let sent = 0; sent < events; sent += 600) {
        await publisher.publishMany(
          stream,
          Array.from({ length: 600 }, (_, i) => ({
            payload: { key: 'x', seq: sent + i },
            partitionKey: keyed ? `k${sent + i}` : undefined,
          })),
        );
      }
      const perSec = events / ((performance.now() - started) / 1_000);
      const shards = await work();
      return {
        perSec,
        busiest: Math.max(...shards.map((s) => s.micros)),
        busiestXadds: Math.max(...shards.map((s) => s.xadds)),
        xadds: shards.reduce((sum, s) => sum + s.xadds, 0),
      };
    };
    // One unpartitioned stream (one hash tag: one slot, one shard) against six partitions.
    const single = await measure('one:{stream}', false);
    const spread = await measure('orders', true);
    const ceilingGain = single.busiest / spread.busiest;
    // The same in commands, which the other processes on these two cores do not disturb.
    const workGain = single.busiestXadds / spread.busiestXadds;
    report({
      oneShard: { eventsPerSec: Math.round(single.perSec), busiestShardMs: single.busiest / 1e3 },
      threeShards: {
        eventsPerSec: Math.round(spread.perSec),
        busiestShardMs: spread.busiest / 1e3,
      },
      ceilingGain: Number(ceilingGain.toFixed(2)),
      workGain: Number(workGain.toFixed(2)),
      partitionsPerShard: [...placement.values()],
      placementGain: Number(placementGain.toFixed(2)),
    });
    // The busiest shard does a fraction of the work one shard did alone: with the cores to run
    // them (here two, shared with this process), throughput can grow by that factor.
    expect(single.xadds).toBe(events);
    expect(spread.xadds).toBe(events);
    expect(workGain).toBeGreaterThan(1.5);
    expect(workGain).toBeGreaterThan(placementGain * 0.8);
  }, 90_000);

  it('keeps per-key order while instances join, leave and die, and takes over a dead one within the lease', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `key-${i}`);
    const probe = new Probe();
    const seqs = new Map<string, number>();
    const producerApp = await start(new Probe(), OrderedHandler, 'producer', {
      consumersEnabled: false,
    });
    const publisher = producerApp.get(StreamPublisher);
    const first = await start(probe, OrderedHandler, 'a');
    let publishing = true;
    let producerError: unknown;
    let published = 0;
    const producer = (async () => {
      while (publishing) {
        await publisher.publishMany(
          'orders',
          keys.map((key) => {
            const seq = (seqs.get(key) ?? 0) + 1;
            seqs.set(key, seq);
            return { payload: { key, seq }, partitionKey: key };
          }),
        );
        published += keys.length;
        await sleep(20);
      }
    })().catch((error: unknown) => {
      publishing = false;
      producerError = error;
    });

    await waitFor(() => probe.calls.length > 100, 'the first events', 10_000);
    const second = await start(probe, OrderedHandler, 'b');
    await sleep(1_500);
    const third = await start(probe, OrderedHandler, 'c');
    await sleep(1_500);
    await close(first);
    await sleep(1_500);

    // "Crash" b: cut all its Redis connections, so it neither renews nor releases anything, as
    // in a kill -9 or a network partition. Its partitions are those it handled last.
    const lastConsumer = new Map<number, string>();
    for (const call of probe.calls)
      lastConsumer.set(call.message.partition!, call.message.consumer);
    const partitionsOfB = [...lastConsumer].filter(([, c]) => c === 'b').map(([p]) => p);
    report({ lastConsumerOfPartition: Object.fromEntries(lastConsumer) });
    expect(partitionsOfB.length).toBeGreaterThan(0);
    const crashedAt = Date.now();
    await second.get(RedisConnections).onApplicationShutdown();
    const takenOver = new Set<number>();
    await waitFor(
      () => {
        for (const call of probe.calls) {
          if (call.at > crashedAt && call.message.consumer !== 'b') {
            takenOver.add(call.message.partition!);
          }
        }
        return partitionsOfB.every((p) => takenOver.has(p!));
      },
      "b's partitions to be taken over",
      10_000,
    );
    const takeoverMs = Date.now() - crashedAt;
    await sleep(500);
    publishing = false;
    await producer;
    expect(producerError).toBeUndefined();

    const eventsSeen = (): Set<string> =>
      new Set(
        probe.of('in-order').map((c) => `${(c.payload as Event).key}:${(c.payload as Event).seq}`),
      );
    await waitFor(() => eventsSeen().size >= published, 'every event', 20_000);
    const final = probe.of('in-order');
    expect(orderViolations(final)).toEqual([]);
    const distinct = eventsSeen();
    expect(distinct.size).toBe(published);
    const tokens = new Set(final.map((c) => `${c.message.partition}:${c.message.fencingToken}`));
    report({
      published,
      handled: final.length,
      redelivered: final.length - distinct.size,
      takeoverMs,
      leaseMs: 1_000,
      leases: tokens.size,
    });
    // Membership and lease expire after 1 s; the next heartbeat (every 333 ms) takes over.
    expect(takeoverMs).toBeLessThan(3_000);
    void third;
  }, 90_000);

  it('loses no confirmed event when a master dies, with replica acknowledgement; measures the loss without', async () => {
    const measureLoss = async (waitForReplicas: boolean) => {
      const app = await start(new Probe(), UnorderedHandler, waitForReplicas ? 'w' : 'n', {
        consumersEnabled: false,
        publishTimeoutMs: 10_000,
        waitForReplicas: waitForReplicas ? { replicas: 1, timeoutMs: 1_000 } : undefined,
      });
      const publisher = app.get(StreamPublisher);
      // A master that still has a replica; it serves some of the partitions.
      let victim: number | undefined;
      for (const port of await cluster.masters()) {
        if (victim === undefined && (await cluster.replicaOf(port).catch(() => undefined))) {
          victim = port;
        }
      }
      const confirmed: string[] = [];
      let failed = 0;
      let running = true;
      const lanes = Array.from({ length: 8 }, async (_, lane) => {
        for (let n = 0; running; n++) {
          const eventId = `${waitForReplicas ? 'w' : 'n'}-${lane}-${n}`;
          try {
            await publisher.publish('orders', { key: eventId, seq: n }, { eventId });
            confirmed.push(eventId);
          } catch {
            failed += 1;
          }
        }
      });
      await sleep(500);
      const killedAt = Date.now();
      await cluster.kill(victim!);
      await cluster.waitForPromotion(victim!, 20_000);
      const promotedMs = Date.now() - killedAt;
      await sleep(500);
      running = false;
      await Promise.all(lanes);
      const client = cluster.client();
      const present = new Set<string>();
      for (let p = 0; p < PARTITIONS; p++) {
        const entries = await client.xrange(partitionStream('orders', p), '-', '+');
        for (const [, fields] of entries) present.add(fields[fields.indexOf('eventId') + 1]);
      }
      const lost = confirmed.filter((id) => !present.has(id));
      return { confirmed: confirmed.length, failed, lost: lost.length, promotedMs };
    };

    // With WAIT first, while every master has a replica; after a kill, the promoted master has
    // none, and WAIT for one can only fail there (a refused publish, never a lost one).
    const withWait = await measureLoss(true);
    const without = await measureLoss(false);
    report({ lossWithoutWait: without, lossWithWait: withWait });
    expect(withWait.confirmed).toBeGreaterThan(100);
    expect(withWait.lost).toBe(0);
  }, 120_000);
});
