import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Command, type Cluster } from 'ioredis';
import {
  RedisConnections,
  RedisStreamsModule,
  StreamPublisher,
  type PublishResult,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { TestRedisCluster } from '../support/redis-cluster.js';
import { sleep } from '../support/wait-for.js';

const STREAM = 'app:{resend}';

/** Cluster.sendCommand, which routes a command to the node of its keys. */
type SendCommand = (command: Command, ...rest: unknown[]) => unknown;

function report(figures: Record<string, unknown>): void {
  process.stdout.write(`[publish-resend] ${JSON.stringify(figures)}\n`);
}

/** eventId of each entry of the stream, in order. */
async function eventIdsIn(client: Cluster): Promise<string[]> {
  const entries = await client.xrange(STREAM, '-', '+');
  return entries.map(([, fields]) => fields[fields.indexOf('eventId') + 1]);
}

/**
 * When a node fails, ioredis Cluster sends the commands that were in flight on it again, to the
 * node that serves their slot next, whatever autoResendUnfulfilledCommands says. A PUBLISH call
 * that Redis ran before the node failed then runs twice.
 */
describe('StreamPublisher on a 3+3 Redis Cluster, when a call reaches Redis twice', () => {
  let cluster: TestRedisCluster;
  const apps: INestApplication[] = [];

  beforeAll(async () => {
    cluster = await TestRedisCluster.start({ masters: 3, replicasPerMaster: 1 });
  }, 40_000);

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  afterAll(async () => {
    await cluster?.destroy();
  });

  async function start(): Promise<INestApplication> {
    const moduleRef = await Test.createTestingModule({
      imports: [
        RedisStreamsModule.forRoot({
          connection: { mode: 'cluster', nodes: cluster.startupNodes },
          consumerName: 'p1',
          consumersEnabled: false,
        }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    apps.push(app);
    return app;
  }

  it('appends each event once when every publish call is sent twice', async () => {
    const app = await start();
    const client = app.get(RedisConnections).command as Cluster;
    const routed = client as unknown as { sendCommand: SendCommand };
    const send = routed.sendCommand.bind(client);
    let sentTwice = 0;
    // The call goes out twice, in a row, on its node's connection: as the resend would send it.
    // A publish call is the only script this app runs (no consumers, no retention), and its first
    // key is the stream.
    routed.sendCommand = (command, ...rest) => {
      if (command.name === 'evalsha' && String(command.args[2]) === STREAM) {
        const again = new Command('evalsha', command.args);
        again.promise.catch(() => undefined);
        send(again, ...rest);
        sentTwice++;
      }
      return send(command, ...rest);
    };
    const publisher = app.get(StreamPublisher);

    const single = await publisher.publish(STREAM, { n: 'single' });
    const batch = await publisher.publishMany(STREAM, [
      ...Array.from({ length: 30 }, (_, n) => ({ payload: { n } })),
      { payload: { n: 'chosen' }, eventId: 'chosen-1' },
    ]);

    expect(sentTwice).toBe(3);
    const assertions = cluster.client();
    const eventIds = await eventIdsIn(assertions);
    expect(eventIds).toEqual([single, ...batch].map((result) => result.eventId));
    const entries = await assertions.xrange(STREAM, '-', '+');
    expect(entries.map(([id]) => id)).toEqual([single, ...batch].map((result) => result.id));
    expect([single, ...batch].every((result) => !result.duplicate)).toBe(true);
    await assertions.del(STREAM);
  }, 30_000);

  it('appends no event twice while the master of the stream is killed under publishing', async () => {
    const app = await start();
    const publisher = app.get(StreamPublisher);
    const owner = await cluster.masterForKey(STREAM);
    let publishing = true;
    const confirmed: PublishResult[] = [];
    let failed = 0;
    let n = 0;
    // Many calls in flight at any time, so that some are on the master when it dies.
    const workers = Array.from({ length: 20 }, async () => {
      while (publishing) {
        try {
          confirmed.push(await publisher.publish(STREAM, { n: n++ }));
        } catch {
          failed++;
          await sleep(50);
        }
      }
    });
    await sleep(500);
    await cluster.kill(owner);
    const killedAt = Date.now();
    await cluster.waitForPromotion(owner, 20_000);
    const promotedAfterMs = Date.now() - killedAt;
    await sleep(1_000);
    publishing = false;
    await Promise.all(workers);

    const eventIds = await eventIdsIn(cluster.client());
    const appended = new Set(eventIds);
    const missing = confirmed.filter((result) => !appended.has(result.eventId)).length;
    report({
      confirmed: confirmed.length,
      failed,
      entries: eventIds.length,
      missing,
      promotedAfterMs,
    });
    expect(confirmed.length).toBeGreaterThan(100);
    // Every event at most once: a call that ran on the old master and was sent again did not
    // append a second time.
    expect(appended.size).toBe(eventIds.length);
  }, 60_000);
});
