import type { ChildProcess } from 'node:child_process';
import type { Redis } from 'ioredis';
import { nextReport, startChild, stopChild } from './children.js';
import type { BenchConfig } from './config.js';
import type { ConsumerReport } from './consumer-process.js';
import { repeat, sleep, until, type Spread } from './stats.js';
import { fillStream } from './streams.js';

const SCRIPT = 'dist-bench/bench/consumer-process.js';
const STREAM = 'bench-processes';
const GROUP = 'bench';

/** A consumer process and its latest report. */
class ConsumerProcess {
  readonly child: ChildProcess;
  latest?: ConsumerReport;

  constructor(url: string, name: string) {
    this.child = startChild(
      SCRIPT,
      { REDIS_URL: url, STREAM, GROUP, CONSUMER_NAME: name, SAMPLE_MS: '100' },
      { ipc: true },
    );
    this.child.on('message', (report: ConsumerReport) => (this.latest = report));
  }

  /** Runs a full garbage collection in the process and returns its report from right after. */
  async collect(): Promise<ConsumerReport> {
    const collected = nextReport<ConsumerReport>(this.child, 'collected');
    this.child.send('collect');
    return collected;
  }

  get acked(): number {
    return this.latest?.acked ?? 0;
  }

  /** Asks it to stop, waits for its last report, and makes sure it is gone. */
  async stop(): Promise<void> {
    if (this.child.connected) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.send('stop');
      await Promise.race([exited, sleep(10_000)]);
    }
    await stopChild(this.child);
  }
}

export type ScalingFigure = `${number} processes`;

/**
 * Throughput of 1, 2 and 4 consumer processes in one group. The group is created first and the
 * processes are started and idle before the events are appended, so none of them gets a head
 * start; throughput is events / (last acknowledgement - first acknowledgement) over all of them.
 */
export async function benchScaling(
  config: BenchConfig,
  url: string,
  redis: Redis,
): Promise<Record<ScalingFigure, Spread>> {
  const events = config.scalingEvents;
  return repeat<ScalingFigure>(config.runs, async () => {
    const rates = {} as Record<ScalingFigure, number>;
    for (const count of config.scalingProcesses) {
      await redis.flushall();
      await redis.xgroup('CREATE', STREAM, GROUP, '$', 'MKSTREAM');
      const processes = Array.from(
        { length: count },
        (_, i) => new ConsumerProcess(url, `bench-${i + 1}`),
      );
      try {
        await until(() => processes.every((p) => p.latest), 60_000, 'consumer processes to start');
        await sleep(300);
        await fillStream(redis, STREAM, events);
        const total = () => processes.reduce((sum, p) => sum + p.acked, 0);
        await until(() => total() >= events, Math.max(60_000, events), `${count} processes`);
        await sleep(150);
        const reports = processes.map((p) => p.latest!).filter((r) => r.acked > 0);
        const first = Math.min(...reports.map((r) => r.first));
        const last = Math.max(...reports.map((r) => r.last));
        rates[`${count} processes`] = events / ((last - first) / 1_000);
      } finally {
        await Promise.all(processes.map((p) => p.stop()));
      }
    }
    await redis.flushall();
    return rates;
  });
}

export type MemoryFigure =
  | 'rss cold MB'
  | 'rss start MB'
  | 'rss peak MB'
  | 'rss end MB'
  | 'rss growth MB'
  | 'rss trend MB per 100k events'
  | 'heap after GC cold MB'
  | 'heap after GC start MB'
  | 'heap after GC end MB';

/**
 * RSS of one consumer process while config.memoryEvents flow through it. Events are appended
 * while it consumes, keeping at most 20,000 waiting, so the stream stays small and the process
 * works at its own pace throughout. A fresh process first takes config.memoryWarmUpEvents, as a
 * service does in its first minutes: V8 sizes its heap to the load then, once. Cold: idle after
 * startup; start: idle after the warm-up; end: 1 s after the last event; trend: the slope of the
 * RSS samples (every 100 ms) against events handled, over the measured events.
 */
export async function benchMemory(
  config: BenchConfig,
  url: string,
  redis: Redis,
): Promise<Record<MemoryFigure, Spread>> {
  const mb = (bytes: number) => bytes / 1024 / 1024;
  return repeat<MemoryFigure>(config.runs, async () => {
    await redis.flushall();
    const consumer = new ConsumerProcess(url, 'bench-memory');
    try {
      await until(() => consumer.latest !== undefined, 60_000, 'the consumer process to start');
      await sleep(1_000);
      const cold = consumer.latest!.rss;
      const heapCold = (await consumer.collect()).heapUsed;
      await flowThrough(consumer, redis, config.memoryWarmUpEvents);
      await sleep(1_000);
      const start = consumer.latest!.rss;
      const heapStart = (await consumer.collect()).heapUsed;
      const samples: Array<[number, number]> = [];
      const sample = (report: ConsumerReport) => samples.push([report.acked, report.rss]);
      consumer.child.on('message', sample);
      await flowThrough(consumer, redis, config.memoryEvents);
      consumer.child.off('message', sample);
      await sleep(1_000);
      const end = consumer.latest!.rss;
      const peak = Math.max(...samples.map(([, rss]) => rss), end);
      const heapEnd = (await consumer.collect()).heapUsed;
      return {
        'rss cold MB': mb(cold),
        'rss start MB': mb(start),
        'rss peak MB': mb(peak),
        'rss end MB': mb(end),
        'rss growth MB': mb(end - start),
        'rss trend MB per 100k events': mb(slope(samples)) * 100_000,
        'heap after GC cold MB': mb(heapCold),
        'heap after GC start MB': mb(heapStart),
        'heap after GC end MB': mb(heapEnd),
      };
    } finally {
      await consumer.stop();
      await redis.flushall();
    }
  });
}

/** Appends `events` more and waits until the consumer has handled them, at most 20,000 ahead. */
async function flowThrough(consumer: ConsumerProcess, redis: Redis, events: number): Promise<void> {
  const target = consumer.acked + events;
  let appended = consumer.acked;
  while (appended < target) {
    if (appended - consumer.acked > 20_000) {
      await sleep(20);
      continue;
    }
    const count = Math.min(5_000, target - appended);
    await fillStream(redis, STREAM, count);
    appended += count;
  }
  await until(() => consumer.acked >= target, Math.max(120_000, events / 2), 'memory run');
}

/** Least-squares slope of y against x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const [x, y] of points) {
    covariance += (x - meanX) * (y - meanY);
    variance += (x - meanX) ** 2;
  }
  return variance === 0 ? 0 : covariance / variance;
}
