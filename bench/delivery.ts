import type { Redis } from 'ioredis';
import { startChild, stopChild } from './children.js';
import type { BenchConfig } from './config.js';
import { fixedRatePost } from './load.js';
import { startReceiver, startService, type BenchReceiver } from './service.js';
import { repeat, sleep, until, type Spread } from './stats.js';
import { ALERT, fillStream } from './streams.js';

const BARE_LOOP = 'dist-bench/bench/bare-delivery-process.js';
const STREAM = 'alerts';
const WEBHOOK_GROUP = 'alerts-webhook';
const BODY = JSON.stringify(ALERT);
/** How often the webhook group's lag is read during a capacity step. */
const LAG_SAMPLE_MS = 250;
/** A step's lag counts as flat when it grows by less than this share of the intake rate. */
const FLAT_SHARE = 0.02;

export type DeliveryFigure =
  | 'bare delivery loop alerts/s'
  | 'service webhook, all-in-one alerts/s'
  | 'sustained capacity, all-in-one alerts/s';

/**
 * Webhook delivery to a local receiver process, two ways, one after the other in each run, on
 * the same number of alerts appended beforehand: the bare loop (`bare-delivery-process.ts`) and
 * the service's webhook group in the all-in-one process, which runs its recorder group as well.
 * Each is timed at the receiver, from the request after the warm-up ones to the last. Then the
 * sustained capacity of the all-in-one process: the highest rate of POST /alerts at which the
 * webhook group's lag stays flat, found by bisection (see `capacity`).
 */
export async function benchDelivery(
  config: BenchConfig,
  redisUrl: string,
  redis: Redis,
): Promise<Record<DeliveryFigure, Spread>> {
  const total = config.deliveryWarmUp + config.deliveryAlerts;
  return repeat<DeliveryFigure>(config.runs, async () => {
    const figures = {} as Record<DeliveryFigure, number>;
    const receiver = await startReceiver();
    try {
      await redis.flushall();
      await fillStream(redis, STREAM, total);
      const loop = startChild(BARE_LOOP, {
        REDIS_URL: redisUrl,
        RECEIVER_URL: receiver.url,
        TOTAL: String(total),
      });
      try {
        figures['bare delivery loop alerts/s'] = await deliveryRate(config, receiver, 0);
      } finally {
        await stopChild(loop);
      }

      await redis.flushall();
      await fillStream(redis, STREAM, total);
      const service = await startService({
        role: 'all',
        redisUrl,
        consumerName: 'bench-delivery',
        webhookUrl: receiver.url,
      });
      try {
        const before = total; // the bare loop's requests
        figures['service webhook, all-in-one alerts/s'] = await deliveryRate(
          config,
          receiver,
          before,
        );
      } finally {
        await service.stop();
      }

      await redis.flushall();
      figures['sustained capacity, all-in-one alerts/s'] = await capacity(
        config,
        redisUrl,
        redis,
        receiver,
        figures['service webhook, all-in-one alerts/s'],
      );
    } finally {
      await receiver.stop();
    }
    return figures;
  });
}

/** Alerts per second at the receiver, over the measured alerts after the warm-up ones. */
async function deliveryRate(
  config: BenchConfig,
  receiver: BenchReceiver,
  before: number,
): Promise<number> {
  const from = before + config.deliveryWarmUp;
  const to = from + config.deliveryAlerts;
  const timeoutMs = Math.max(60_000, config.deliveryAlerts * 2);
  const [start, end] = await receiver.times([from, to], timeoutMs);
  return (config.deliveryAlerts / (end - start)) * 1_000;
}

/**
 * The highest intake rate at which the all-in-one process delivers as fast as it accepts. Each
 * step posts at a fixed rate for `capacityStepSec` and fits a line to the webhook group's lag
 * (entries not yet read plus those pending) over the step's last three quarters; a slope under 2 %
 * of the rate is flat. Bisection between 0 and 1.25 times the delivery rate measured without
 * intake, `capacitySteps` steps; the backlog of a step that was too fast drains before the next.
 * Returns the highest rate that was flat (0 if none was).
 */
async function capacity(
  config: BenchConfig,
  redisUrl: string,
  redis: Redis,
  receiver: BenchReceiver,
  deliveryRate: number,
): Promise<number> {
  const service = await startService({
    role: 'all',
    redisUrl,
    consumerName: 'bench-capacity',
    webhookUrl: receiver.url,
  });
  const url = `${service.url}/alerts`;
  try {
    let low = 0;
    let high = deliveryRate * 1.25;
    // Unmeasured: the process compiles its hot code and sizes its heap.
    await fixedRatePost(url, BODY, config.intakeConnections, high / 2, config.intakeWarmUpSec);
    await drained(redis);
    for (let step = 0; step < config.capacitySteps; step++) {
      const rate = Math.round((low + high) / 2);
      const samples: Array<[number, number]> = [];
      const started = Date.now();
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          samples.push([(Date.now() - started) / 1_000, await webhookLag(redis)]);
          await sleep(LAG_SAMPLE_MS);
        }
      })();
      const result = await fixedRatePost(
        url,
        BODY,
        config.intakeConnections,
        rate,
        config.capacityStepSec,
      ).finally(() => (sampling = false));
      await sampler;
      if (result.failed > 0) throw new Error(`capacity step at ${rate}/s: ${result.failed} failed`);
      const settled = samples.filter(([t]) => t >= config.capacityStepSec / 4);
      const flat = slope(settled) < FLAT_SHARE * rate;
      if (flat) low = rate;
      else high = rate;
      await drained(redis);
    }
    return low;
  } finally {
    await service.stop();
  }
}

/** Entries of the alerts stream that the webhook group has not read, plus those it has pending. */
async function webhookLag(redis: Redis): Promise<number> {
  const groups = (await redis.xinfo('GROUPS', STREAM)) as unknown[][];
  const group = groups.find((g) => field(g, 'name') === WEBHOOK_GROUP);
  if (!group) return 0;
  return Number(field(group, 'lag') ?? 0) + Number(field(group, 'pending') ?? 0);
}

/** Waits until the webhook group has caught up (a few entries may be in flight). */
async function drained(redis: Redis): Promise<void> {
  await until(async () => (await webhookLag(redis)) < 50, 120_000, 'the webhook group to catch up');
}

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx === 0 ? 0 : sxy / sxx;
}

function field(reply: unknown[], name: string): unknown {
  const at = reply.indexOf(name);
  return at >= 0 ? reply[at + 1] : undefined;
}
