import { Redis } from 'ioredis';
import { AckClock, GROUP, STREAM, bullmqWorker, rawLoop } from './consume.js';
import { until } from './stats.js';
import { startModuleConsumer } from './streams.js';

/** Which consumer a consume process runs, and with what settings. */
export type ConsumeSpec =
  | {
      system: 'module';
      batchSize?: number;
      concurrency?: number;
      prefetch?: number;
      batch?: { maxSize: number; maxWaitMs: number };
    }
  | { system: 'raw' }
  | { system: 'BullMQ'; concurrency: number };

export interface ConsumeReport {
  type: 'done';
  perSecond: number;
}

/**
 * One consumer in its own process, on a stream (or queue) the bench filled: takes WARM_UP + EVENTS
 * events with a no-op handler and reports its events per second over the last EVENTS, from the
 * first acknowledgement after the warm-up to the last. SPEC (JSON) says which consumer; REDIS_URL
 * where Redis is.
 */
async function main(): Promise<void> {
  const spec = JSON.parse(process.env.SPEC ?? '{}') as ConsumeSpec;
  const warmUp = Number(process.env.WARM_UP ?? 0);
  const total = warmUp + Number(process.env.EVENTS);
  const url = process.env.REDIS_URL ?? '';
  let perSecond: number;
  if (spec.system === 'raw') {
    const redis = new Redis(url);
    perSecond = await rawLoop(redis, total, undefined, STREAM, warmUp);
    redis.disconnect();
  } else if (spec.system === 'BullMQ') {
    perSecond = await bullmqWorker(Number(new URL(url).port), total, spec.concurrency, warmUp);
  } else {
    const clock = new AckClock(warmUp);
    const app = await startModuleConsumer({
      url,
      stream: STREAM,
      group: GROUP,
      consumerName: 'bench-1',
      batchSize: spec.batchSize,
      concurrency: spec.concurrency,
      prefetch: spec.prefetch,
      batch: spec.batch,
      onAcked: clock.ack,
    });
    await until(() => clock.count >= total, Math.max(60_000, total), 'the module to consume');
    await app.close();
    perSecond = clock.perSecond();
  }
  const report: ConsumeReport = { type: 'done', perSecond };
  await new Promise<void>((resolve) => process.send?.(report, undefined, {}, () => resolve()));
  process.disconnect?.();
}

void main().catch((error: unknown) => {
  process.stderr.write(`consume process failed: ${String(error)}\n`);
  process.exit(1);
});
