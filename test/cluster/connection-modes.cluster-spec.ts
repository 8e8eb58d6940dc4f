import { Inject, Injectable, type INestApplication, type LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { validate } from '../../src/config/env.validation.js';
import { EnvironmentModule } from '../../src/config/environment.module.js';
import { HealthModule } from '../../src/health/health.module.js';
import {
  DeadLetters,
  DurabilityCheck,
  RedisStreamsModule,
  RedisStreamsStatus,
  StreamHandler,
  StreamInspector,
  StreamPublisher,
  type RedisConnectionOptions,
  type StreamMessage,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { MainProcess } from '../support/main-process.js';
import { TestRedisCluster } from '../support/redis-cluster.js';
import { TestRedisSentinel } from '../support/redis-sentinel.js';
import { PROBE, Probe } from '../support/stream-probe.js';
import { startReadyApp } from '../support/test-app.js';
import { sleep, waitFor } from '../support/wait-for.js';

/**
 * A hash tag keeps the stream, its dead letters and its bookkeeping keys in one Cluster slot.
 * (Stream names must start with a letter or digit, so `{alerts}` alone is not accepted.)
 */
const STREAM = 'app:{alerts}';
const DEAD_LETTERS = 'app:{alerts}:dlq';
const MAX_ATTEMPTS = 3;

/** What a failing Lua script or pipeline on Cluster says when its keys span slots. */
const CROSS_SLOT = /CROSSSLOT|non local key|same slot|slots allocation group/i;

interface Payload {
  n: number;
  kind?: 'flaky' | 'doomed';
}

/** Two groups on one stream: one plain, one idempotent (which adds the done-marker scripts). */
@Injectable()
class AlertHandlers {
  constructor(@Inject(PROBE) private readonly probe: Probe) {}

  @StreamHandler(STREAM, { group: 'record' })
  record(payload: Payload, message: StreamMessage): unknown {
    return this.probe.record('record', payload, message);
  }

  @StreamHandler(STREAM, { group: 'deliver', idempotent: true })
  deliver(payload: Payload, message: StreamMessage): unknown {
    return this.probe.record('deliver', payload, message);
  }
}

/** Keeps every line the application logs, to look for errors afterwards. */
class RecordingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown, context?: string): void {
    this.add('log', message, context);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.add('error', message, rest.at(-1));
  }
  warn(message: unknown, context?: string): void {
    this.add('warn', message, context);
  }
  debug(message: unknown, context?: string): void {
    this.add('debug', message, context);
  }
  verbose(message: unknown, context?: string): void {
    this.add('verbose', message, context);
  }
  text(): string {
    return this.lines.join('\n');
  }
  private add(level: string, message: unknown, context: unknown): void {
    const line = `${level} [${String(context)}] ${String(message)}`;
    this.lines.push(line);
    if (process.env.TEST_LOGS) process.stdout.write(`${line}\n`);
  }
}

/** Flaky events fail their first delivery; doomed ones fail every time and end as dead letters. */
function failingProbe(): Probe {
  const probe = new Probe();
  probe.behaviour = ({ handler, payload, message }) => {
    const { kind } = payload as Payload;
    if (handler !== 'deliver') return;
    if (kind === 'doomed') throw new Error('the webhook refuses this one');
    if (kind === 'flaky' && message.attempt === 1) throw new Error('first try fails');
  };
  return probe;
}

async function startModule(
  connection: RedisConnectionOptions,
  probe: Probe,
  logs: RecordingLogger,
  withHealth = false,
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      RedisStreamsModule.forRoot({
        connection,
        consumerName: 'c1',
        claimMinIdleMs: 5_000,
        handlerDefaults: {
          blockMs: 200,
          maxAttempts: MAX_ATTEMPTS,
          backoff: { baseMs: 100, maxMs: 400 },
        },
      }),
      // The health routes read the app's configuration (its process role): the defaults here.
      ...(withHealth ? [EnvironmentModule.forRoot(validate({})), HealthModule] : []),
    ],
    providers: [{ provide: PROBE, useValue: probe }, AlertHandlers],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: logs });
  if (withHealth) await app.listen(0, '127.0.0.1');
  else await app.init();
  return app;
}

/** The eventIds that `handler` finished without throwing. */
function succeeded(probe: Probe, handler: string): Set<string> {
  const done = new Set<string>();
  for (const call of probe.of(handler)) {
    const { kind } = call.payload as Payload;
    const failed = kind === 'doomed' || (kind === 'flaky' && call.message.attempt === 1);
    if (!(handler === 'deliver' && failed)) done.add(call.message.eventId);
  }
  return done;
}

/**
 * Publishes one event every `everyMs` until `until` resolves, then `tail` more; counts what
 * failed. Each event has its own eventId, so a publish retried by the client is not doubled.
 */
async function publishThrough(
  publisher: StreamPublisher,
  prefix: string,
  until: Promise<unknown>,
  everyMs: number,
  tail: number,
): Promise<{
  published: string[];
  failures: string[];
  firstOkAfterMs?: number;
  slowestMs: number;
}> {
  const started = Date.now();
  const published: string[] = [];
  let slowestMs = 0;
  const failures: string[] = [];
  let firstOkAfterMs: number | undefined;
  let done = false;
  void until.finally(() => (done = true));
  let extra = 0;
  for (let n = 0; !done || extra < tail; n++) {
    if (done) extra++;
    const eventId = `${prefix}-${n}`;
    const sent = Date.now();
    try {
      await publisher.publish(STREAM, { n }, { eventId });
      published.push(eventId);
      if (firstOkAfterMs === undefined && failures.length > 0) {
        firstOkAfterMs = Date.now() - started;
      }
    } catch (error) {
      failures.push(`${Date.now() - started} ms: ${(error as Error).message}`);
    }
    slowestMs = Math.max(slowestMs, Date.now() - sent);
    await sleep(everyMs);
  }
  return { published, failures, firstOkAfterMs, slowestMs };
}

function report(figures: Record<string, unknown>): void {
  process.stdout.write(`[connection-modes] ${JSON.stringify(figures)}\n`);
}

describe('RedisStreamsModule on a 3+3 Redis Cluster', () => {
  let cluster: TestRedisCluster;
  const apps: INestApplication[] = [];

  beforeAll(async () => {
    cluster = await TestRedisCluster.start({ masters: 3, replicasPerMaster: 1 });
    report({ clusterStartMs: cluster.startedInMs });
  }, 40_000);

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  afterAll(async () => {
    await cluster?.destroy();
  });

  const connection = (): RedisConnectionOptions => ({
    mode: 'cluster',
    nodes: cluster.startupNodes,
  });

  it('publishes, consumes, retries and dead-letters a hash-tagged stream without CROSSSLOT', async () => {
    const probe = failingProbe();
    const logs = new RecordingLogger();
    const app = await startModule(connection(), probe, logs, true);
    apps.push(app);
    const publisher = app.get(StreamPublisher);

    const plain = Array.from({ length: 20 }, (_, n) => ({ payload: { n }, eventId: `plain-${n}` }));
    await publisher.publishMany(STREAM, plain);
    await publisher.publish(STREAM, { n: 100, kind: 'flaky' }, { eventId: 'flaky-1' });
    await publisher.publish(STREAM, { n: 101, kind: 'doomed' }, { eventId: 'doomed-1' });
    // The same eventId again: de-duplicated by the publish script, on the stream's node.
    const again = await publisher.publish(STREAM, { n: 0 }, { eventId: 'plain-0' });
    expect(again.duplicate).toBe(true);

    const expected = [...plain.map((p) => p.eventId), 'flaky-1'];
    await waitFor(
      () => expected.every((id) => succeeded(probe, 'deliver').has(id)),
      'every event but the doomed one to be delivered',
      15_000,
    );
    await waitFor(
      () => [...expected, 'doomed-1'].every((id) => succeeded(probe, 'record').has(id)),
      'every event to be recorded',
      15_000,
    );
    const flakyAttempts = probe
      .of('deliver')
      .filter((c) => c.message.eventId === 'flaky-1')
      .map((c) => c.message.attempt);
    expect(flakyAttempts).toEqual([1, 2]);

    const inspector = app.get(StreamInspector);
    const letters = await waitFor(async () => {
      const page = await inspector.deadLetters(STREAM);
      return page.items.length === 1 ? page.items : undefined;
    }, 'the doomed event in the dead-letter stream');
    expect(letters[0]).toMatchObject({ eventId: 'doomed-1', group: 'deliver', attempts: 3 });
    const doomedAttempts = probe.of('deliver').filter((c) => c.message.eventId === 'doomed-1');
    expect(doomedAttempts).toHaveLength(MAX_ATTEMPTS);

    // The inspector's reads and the dead letters' replay script work on the stream's node too.
    const info = await inspector.stream(STREAM);
    expect(info.length).toBe(22);
    expect(info.deadLetter).toEqual({ stream: DEAD_LETTERS, length: 1 });
    expect(info.groups.map((g) => g.name).sort()).toEqual(['deliver', 'record']);
    const replay = await app.get(DeadLetters).replay(STREAM, [letters[0].id]);
    expect(replay.replayed).toHaveLength(1);
    await waitFor(
      () => probe.of('deliver').filter((c) => c.message.eventId === 'doomed-1').length > 3,
      'the replayed event to be delivered again',
    );

    // Every key of the stream is on the master that owns its slot.
    const owner = await cluster.masterForKey(STREAM);
    expect(await cluster.masterForKey(DEAD_LETTERS)).toBe(owner);
    expect(await cluster.masterForKey(`${STREAM}:retries:deliver`)).toBe(owner);

    // Health asks every master, and the durability check reads each master's persistence.
    const ping = await app.get(RedisStreamsStatus).ping(2_000);
    expect(ping).toMatchObject({ ok: true, checked: '3 masters, cluster_state ok' });
    const durability = await app.get(DurabilityCheck).check();
    expect(durability.appendFsync).toBe('everysec');
    expect(durability.checked).toMatch(/^masters (127\.0\.0\.1:\d+, ){2}127\.0\.0\.1:\d+$/);
    const url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    const ready = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(5_000) });
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      details: { redis: { status: 'up', checked: '3 masters, cluster_state ok' } },
    });

    expect(logs.text()).not.toMatch(CROSS_SLOT);
    expect(logs.lines.filter((line) => line.startsWith('error'))).toEqual([]);
  }, 60_000);

  it('refuses to start handlers on a stream whose keys would span slots', async () => {
    @Injectable()
    class Untagged {
      @StreamHandler('orders', { group: 'g' })
      handle(): void {}
    }
    const moduleRef = await Test.createTestingModule({
      imports: [RedisStreamsModule.forRoot({ connection: connection(), consumerName: 'c1' })],
      providers: [Untagged],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await expect(app.init()).rejects.toThrow(/hash tag.*"orders"/);
    await app.close();
  });

  it('says at startup that the alerts service needs partitions on Cluster', async () => {
    const main = MainProcess.start({
      REDIS_MODE: 'cluster',
      REDIS_CLUSTER_NODES: cluster.nodeList,
      PORT: '0',
      LOG_FORMAT: 'text',
    });
    const exit = await main.exit(15_000);
    expect(exit.code).toBe(1);
    expect(main.stderr + main.stdout).toMatch(
      /ALERTS_PARTITIONS: must be at least 1 with REDIS_MODE=cluster/,
    );
  }, 20_000);

  it('serves the whole alerts service on Cluster with ALERTS_PARTITIONS: accepted, delivered, recorded', async () => {
    const app = await startReadyApp({
      REDIS_MODE: 'cluster',
      REDIS_CLUSTER_NODES: cluster.nodeList,
      ALERTS_PARTITIONS: '3',
      CONSUMER_NAME: 'cluster-e2e',
    });
    try {
      const sources = ['db-1', 'web-2', 'queue-3', 'cache-4'];
      const ids: string[] = [];
      for (const source of sources) {
        const accepted = await fetch(`${app.url}/alerts`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ message: `${source} is down`, severity: 'critical', source }),
        });
        expect(accepted.status).toBe(202);
        ids.push(((await accepted.json()) as { eventId: string }).eventId);
      }
      for (const id of ids) {
        await waitFor(
          async () => {
            const record = await fetch(`${app.url}/alerts/${id}`);
            return (
              record.ok && ((await record.json()) as { status: string }).status === 'delivered'
            );
          },
          `alert ${id} to be delivered`,
          15_000,
        );
      }
      const ready = await fetch(`${app.url}/health/ready`);
      expect(ready.status).toBe(200);
    } finally {
      await app.close();
    }
  }, 40_000);

  it('keeps consuming by itself after the master of the stream slot is killed', async () => {
    const probe = new Probe();
    const logs = new RecordingLogger();
    const app = await startModule(connection(), probe, logs);
    apps.push(app);
    const publisher = app.get(StreamPublisher);
    for (let n = 0; n < 5; n++) await publisher.publish(STREAM, { n }, { eventId: `before-${n}` });
    await waitFor(() => succeeded(probe, 'record').size === 5, 'the first events', 10_000);

    const owner = await cluster.masterForKey(STREAM);
    const replica = await cluster.replicaOf(owner);
    await cluster.kill(owner);
    const killedAt = Date.now();
    const promotion = cluster.waitForPromotion(owner, 20_000);
    const traffic = publishThrough(publisher, 'during', promotion, 100, 10);
    const promoted = await promotion;
    const promotedAfterMs = Date.now() - killedAt;
    expect(promoted).toBe(replica);
    expect(await cluster.masterForKey(STREAM)).toBe(replica);
    const { published, failures, firstOkAfterMs, slowestMs } = await traffic;

    // New events after the promotion, with nothing restarted: the consumer finds the new master.
    const after: string[] = [];
    for (let n = 0; n < 5; n++) {
      await publisher.publish(STREAM, { n }, { eventId: `after-${n}` });
      after.push(`after-${n}`);
    }
    const handled = [...published, ...after];
    await waitFor(
      () => handled.every((id) => succeeded(probe, 'record').has(id)),
      'every event published during and after the failover to be handled',
      20_000,
    );
    const handledAfterMs = Date.now() - killedAt;
    report({
      cluster: {
        promotedAfterMs,
        publishedDuringFailover: published.length,
        failedPublishes: failures.length,
        firstOkAfterFailureMs: firstOkAfterMs,
        slowestPublishMs: slowestMs,
        allHandledAfterMs: handledAfterMs,
        failures: failures.slice(0, 5),
      },
    });
    expect(logs.text()).not.toMatch(CROSS_SLOT);
  }, 60_000);
});

describe('RedisStreamsModule through Sentinel', () => {
  let sentinel: TestRedisSentinel;

  beforeAll(async () => {
    sentinel = await TestRedisSentinel.start();
    report({ sentinelStartMs: sentinel.startedInMs });
  }, 40_000);

  afterAll(async () => {
    await sentinel?.destroy();
  });

  it('serves the whole alerts service, ready, through the Sentinels', async () => {
    const app = await startReadyApp({
      REDIS_MODE: 'sentinel',
      REDIS_SENTINELS: sentinel.sentinelList,
      REDIS_SENTINEL_NAME: sentinel.name,
      CONSUMER_NAME: 'sentinel-e2e',
    });
    try {
      const accepted = await fetch(`${app.url}/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'disk full', severity: 'warning' }),
      });
      expect(accepted.status).toBe(202);
      const ready = await fetch(`${app.url}/health/ready`);
      expect(ready.status).toBe(200);
    } finally {
      await app.close();
    }
  }, 30_000);

  it('follows the new master after kill -9 of the old one and keeps publishing and consuming', async () => {
    const probe = new Probe();
    const logs = new RecordingLogger();
    const app = await startModule(
      { mode: 'sentinel', sentinels: sentinel.sentinels, name: sentinel.name },
      probe,
      logs,
    );
    try {
      const publisher = app.get(StreamPublisher);
      for (let n = 0; n < 5; n++) {
        await publisher.publish(STREAM, { n }, { eventId: `before-${n}` });
      }
      await waitFor(() => succeeded(probe, 'record').size === 5, 'the first events', 10_000);

      const oldMaster = await sentinel.killMaster();
      const killedAt = Date.now();
      const switched = sentinel.waitForNewMaster(oldMaster, 20_000);
      const traffic = publishThrough(publisher, 'during', switched, 100, 20);
      const newMaster = await switched;
      const switchedAfterMs = Date.now() - killedAt;
      expect(newMaster).not.toBe(oldMaster);
      const { published, failures, firstOkAfterMs, slowestMs } = await traffic;
      expect(published.length).toBeGreaterThanOrEqual(10);

      const after: string[] = [];
      for (let n = 0; n < 5; n++) {
        await publisher.publish(STREAM, { n }, { eventId: `after-${n}` });
        after.push(`after-${n}`);
      }
      const handled = [...published, ...after];
      await waitFor(
        () => handled.every((id) => succeeded(probe, 'record').has(id)),
        'every event published during and after the switch to be handled',
        20_000,
      );
      report({
        sentinel: {
          switchedAfterMs,
          publishedDuringSwitch: published.length,
          failedPublishes: failures.length,
          firstOkAfterFailureMs: firstOkAfterMs,
          slowestPublishMs: slowestMs,
          allHandledAfterMs: Date.now() - killedAt,
          failures: failures.slice(0, 5),
        },
      });
      const ping = await app.get(RedisStreamsStatus).ping(2_000);
      expect(ping.ok).toBe(true);
    } finally {
      await app.close();
    }
  }, 60_000);
});
