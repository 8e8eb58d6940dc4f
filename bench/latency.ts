import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { bullmqConnection, rawLoop } from './consume.js';
import type { BenchConfig } from './config.js';
import { now, percentile, repeat, sleep, until, type Spread } from './stats.js';
import { ALERT, entryFields, startModuleConsumer, startModulePublisher } from './streams.js';

const STREAM = 'bench-latency';

export type LatencySystem = 'module' | 'raw' | 'BullMQ';
export type LatencyFigure = `${LatencySystem} ${'p50' | 'p99' | 'max'}`;

interface Timed {
  sentAt: number;
}

/**
 * Milliseconds from the publish call to the handler call, at a fixed rate, for the module
 * (publish + batch 100, concurrency 100, prefetch 100), a raw XADD / XREADGROUP COUNT 100 loop, and BullMQ
 * (add + worker at concurrency 100).
 */
export async function benchLatency(
  config: BenchConfig,
  url: string,
  port: number,
  redis: Redis,
): Promise<Record<LatencyFigure, Spread>> {
  const total = Math.round((config.latencyRatePerSec * config.latencyDurationMs) / 1_000);
  return repeat<LatencyFigure>(config.runs, async () => {
    const figures = {} as Record<LatencyFigure, number>;
    const record = (system: LatencySystem, samples: number[]) => {
      samples.sort((a, b) => a - b);
      figures[`${system} p50`] = percentile(samples, 50);
      figures[`${system} p99`] = percentile(samples, 99);
      figures[`${system} max`] = samples[samples.length - 1];
    };

    await redis.flushall();
    {
      const samples: number[] = [];
      const onHandle = (payload: unknown) => samples.push(now() - (payload as Timed).sentAt);
      const consumer = await startModuleConsumer({
        url,
        stream: STREAM,
        group: 'bench',
        consumerName: 'bench-1',
        batchSize: 100,
        concurrency: 100,
        prefetch: 100,
        onHandle,
        onAcked: () => undefined,
      });
      const { app, publisher } = await startModulePublisher(url);
      await sleep(200);
      await atRate(config, (sentAt) => publisher.publish(STREAM, { ...ALERT, sentAt }));
      await until(() => samples.length >= total, 30_000, 'the module to receive every event');
      await app.close();
      await consumer.close();
      record('module', samples);
    }

    await redis.flushall();
    {
      const samples: number[] = [];
      const onHandle = (payload: unknown) => samples.push(now() - (payload as Timed).sentAt);
      const consuming = rawLoop(redis, total, onHandle, STREAM);
      await sleep(200);
      await atRate(config, (sentAt) =>
        redis.xadd(STREAM, '*', ...entryFields(`e${sentAt}`, { ...ALERT, sentAt })),
      );
      await consuming;
      record('raw', samples);
    }

    await redis.flushall();
    {
      const samples: number[] = [];
      const connection = bullmqConnection(port);
      const queue = new Queue('bench-latency', { connection });
      const worker = new Worker(
        'bench-latency',
        async (job) => {
          samples.push(now() - (job.data as Timed).sentAt);
        },
        { connection, concurrency: 100 },
      );
      await worker.waitUntilReady();
      await sleep(200);
      const opts = { removeOnComplete: true, removeOnFail: true };
      await atRate(config, (sentAt) => queue.add('alert', { ...ALERT, sentAt }, opts));
      await until(() => samples.length >= total, 30_000, 'BullMQ to receive every event');
      await worker.close();
      await queue.close();
      record('BullMQ', samples);
    }
    await redis.flushall();
    return figures;
  });
}

/**
 * Calls `send` config.latencyRatePerSec times a second for config.latencyDurationMs, without
 * waiting for one send before the next; catches up after a late timer instead of drifting.
 */
async function atRate(config: BenchConfig, send: (sentAt: number) => Promise<unknown>) {
  const total = Math.round((config.latencyRatePerSec * config.latencyDurationMs) / 1_000);
  const started = now();
  const inFlight: Array<Promise<unknown>> = [];
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((now() - started) / 1_000) * config.latencyRatePerSec));
    for (; sent < due; sent++) inFlight.push(send(now()));
    await sleep(1);
  }
  await Promise.all(inFlight);
}
