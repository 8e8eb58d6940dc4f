import { Inject, Injectable, type INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import {
  DurabilityCheck,
  PublishFailedError,
  StreamHandler,
  StreamPublisher,
  StreamRetention,
  type StreamMessage,
} from '../src/index.js';
import { PROBE, Probe } from './support/stream-probe.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { sleep, waitFor } from './support/wait-for.js';

@Injectable()
class IdempotentHandler {
  constructor(@Inject(PROBE) private readonly probe: Probe) {}

  @StreamHandler('orders', { group: 'once', idempotent: true })
  handle(payload: unknown, message: StreamMessage): unknown {
    return this.probe.record('once', payload, message);
  }
}

/** Idempotency, safe retention, the durability check and replica acknowledgement. */
describe('RedisStreamsModule hardening', () => {
  const bed = streamsTestbed({ args: ['--appendfsync', 'always'] });
  let client: Redis;

  const start = (
    overrides: Record<string, unknown>,
    providers: unknown[] = [],
  ): Promise<INestApplication> =>
    bed.start(
      {
        consumerName: 'c1',
        claimMinIdleMs: 60_000,
        handlerDefaults: { blockMs: 100, backoff: { baseMs: 50, maxMs: 200 } },
        ...overrides,
      },
      providers as never[],
    );

  beforeAll(() => {
    client = bed.client;
  });

  it('runs an idempotent handler once per eventId, even when the event is in the stream twice', async () => {
    const probe = new Probe();
    let failOnce = true;
    probe.behaviour = (call) => {
      if ((call.payload as { n: string }).n === 'flaky' && failOnce) {
        failOnce = false;
        throw new Error('first attempt fails');
      }
    };
    await start({}, [{ provide: PROBE, useValue: probe }, IdempotentHandler]);
    await client.xadd('orders', '*', 'eventId', 'evt-A', 'n', '1');
    await waitFor(() => probe.calls.length === 1, 'the first copy');
    await waitFor(
      async () => (await client.exists('orders:done:once:evt-A')) === 1,
      'the handled mark',
    );
    await client.xadd('orders', '*', 'eventId', 'evt-A', 'n', '1');
    // A retried event is recorded as handled when it finally succeeds.
    await client.xadd('orders', '*', 'eventId', 'evt-B', 'n', 'flaky');
    await waitFor(
      () => probe.calls.filter((c) => c.message.eventId === 'evt-B').length === 2,
      'the retry',
    );
    await client.xadd('orders', '*', 'eventId', 'evt-B', 'n', 'flaky');
    await waitFor(
      async () => Number(((await client.xpending('orders', 'once')) as [number])[0]) === 0,
      'all acked',
    );
    await sleep(300);
    expect(probe.calls.map((c) => c.message.eventId)).toEqual(['evt-A', 'evt-B', 'evt-B']);
    expect(await client.pttl('orders:done:once:evt-A')).toBeGreaterThan(0);
  });

  it('runs an idempotent handler once when two deliveries of one event arrive at the same time', async () => {
    const probe = new Probe();
    probe.behaviour = () => sleep(300);
    await start({}, [{ provide: PROBE, useValue: probe }, IdempotentHandler]);
    await client
      .pipeline()
      .xadd('orders', '*', 'eventId', 'evt-C', 'n', '1')
      .xadd('orders', '*', 'eventId', 'evt-C', 'n', '1')
      .exec();
    await waitFor(
      // Done is `1`: a small integer, which Redis keeps without memory of its own.
      async () => (await client.get('orders:done:once:evt-C')) === '1',
      'the event to be done',
    );
    await waitFor(
      async () => Number(((await client.xpending('orders', 'once')) as [number])[0]) === 0,
      'both entries acknowledged',
    );
    expect(probe.calls.filter((c) => c.message.eventId === 'evt-C')).toHaveLength(1);
  });

  it('skips an event that an older version marked done (done:<entry id>)', async () => {
    const probe = new Probe();
    await start({}, [{ provide: PROBE, useValue: probe }, IdempotentHandler]);
    await client.set('orders:done:once:evt-D', 'done:1-0', 'PX', 60_000);
    await client.xadd('orders', '*', 'eventId', 'evt-D', 'n', '1');
    await client.xadd('orders', '*', 'eventId', 'evt-E', 'n', '1');
    await waitFor(() => probe.calls.length === 1, 'the other event');
    await waitFor(
      async () => Number(((await client.xpending('orders', 'once')) as [number])[0]) === 0,
      'both entries acknowledged',
    );
    expect(probe.calls.map((c) => c.message.eventId)).toEqual(['evt-E']);
  });

  it('never trims entries a group has not received and acknowledged, and raises an alarm instead', async () => {
    const app = await start({
      consumersEnabled: false,
      retention: [{ stream: 'orders', maxLen: 10 }],
    });
    await client.xgroup('CREATE', 'orders', 'fast', '$', 'MKSTREAM');
    await client.xgroup('CREATE', 'orders', 'slow', '$');
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) ids.push((await client.xadd('orders', '*', 'n', String(i)))!);
    // "fast" received and acknowledged all; "slow" received 40 and acknowledged the first 30.
    await client.xreadgroup('GROUP', 'fast', 'f', 'COUNT', 100, 'STREAMS', 'orders', '>');
    await client.xack('orders', 'fast', ...ids);
    await client.xreadgroup('GROUP', 'slow', 's', 'COUNT', 40, 'STREAMS', 'orders', '>');
    await client.xack('orders', 'slow', ...ids.slice(0, 30));

    const retention = app.get(StreamRetention);
    const first = await retention.trim({ stream: 'orders', maxLen: 10 });
    expect(first).toMatchObject({ length: 70, trimmed: 30, overCap: true, heldBy: ['slow'] });
    const [[oldest]] = await client.xrange('orders', '-', '+', 'COUNT', 1);
    expect(oldest).toBe(ids[30]);

    // Entries never delivered to "slow" are kept too.
    await client.xack('orders', 'slow', ...ids.slice(30, 40));
    const second = await retention.trim({ stream: 'orders', maxLen: 10 });
    expect(second).toMatchObject({ length: 60, overCap: true, heldBy: ['slow'] });
    const [[oldestNow]] = await client.xrange('orders', '-', '+', 'COUNT', 1);
    expect(oldestNow).toBe(ids[40]);

    await client.xreadgroup('GROUP', 'slow', 's', 'COUNT', 100, 'STREAMS', 'orders', '>');
    await client.xack('orders', 'slow', ...ids);
    const third = await retention.trim({ stream: 'orders', maxLen: 10 });
    expect(third).toMatchObject({ length: 10, overCap: false, heldBy: [] });
    expect(retention.report()).toEqual([third]);
  });

  it('reports the persistence it finds, and says so when the ACL denies CONFIG', async () => {
    const app = await start({ consumersEnabled: false });
    const always = await app.get(DurabilityCheck).check();
    expect(always).toEqual({ appendFsync: 'always' });

    const volatile = await bed.startRedis({ appendOnly: false });
    const other = await bed.start(
      { url: volatile.url, consumerName: 'c1', consumersEnabled: false },
      [],
    );
    const report = await other.get(DurabilityCheck).check();
    expect(report.appendFsync).toBe('off');
    expect(report.warning).toMatch(/appendonly yes/);

    const admin = bed.connect({ to: volatile });
    await admin.call(
      'ACL',
      'SETUSER',
      'limited',
      'on',
      '>secret-pass-123',
      '~orders*',
      '+@all',
      '-config',
    );
    const limited = await bed.start(
      {
        url: volatile.urlAs('limited', 'secret-pass-123'),
        consumerName: 'c1',
        consumersEnabled: false,
      },
      [],
    );
    const denied = await limited.get(DurabilityCheck).check();
    expect(denied.appendFsync).toBe('unknown');
    expect(denied.warning).toMatch(/may not run CONFIG GET/);
  });

  it('waits for replicas when asked, and fails the publish when they do not confirm', async () => {
    const replica = await bed.startReplica();
    const app = await start({
      consumersEnabled: false,
      waitForReplicas: { replicas: 1, timeoutMs: 500 },
    });
    const publisher = app.get(StreamPublisher);
    const ok = await publisher.publish('orders', { n: 1 }, { eventId: 'r-1' });
    const replicaClient = bed.connect({ to: replica });
    expect(await replicaClient.xlen('orders')).toBe(1);
    // Before the replica goes, or the client would try to reconnect until the test ends.
    replicaClient.disconnect();

    await replica.kill();
    await waitFor(
      async () => /connected_slaves:0/.test(await client.info('replication')),
      'the replica to drop',
    );
    const error = await publisher
      .publish('orders', { n: 2 }, { eventId: 'r-2' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PublishFailedError);
    expect((error as Error).message).toMatch(/0 of 1 replicas/);
    // The retry with the same eventId does not append a second entry.
    await expect(publisher.publish('orders', { n: 2 }, { eventId: 'r-2' })).rejects.toThrow(
      PublishFailedError,
    );
    expect(await client.xlen('orders')).toBe(2);
    expect(ok.duplicate).toBe(false);
  });
});
