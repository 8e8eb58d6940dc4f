import type { ChildProcess } from 'node:child_process';
import type { Redis } from 'ioredis';
import { nextReport, startChild, stopChild } from './children.js';
import type { BenchConfig } from './config.js';
import type { LatencyReport, LatencySystem } from './latency-process.js';
import { percentile, repeat, type Spread } from './stats.js';

const SCRIPT = 'dist-bench/bench/latency-process.js';
const SYSTEMS: LatencySystem[] = ['module', 'raw', 'BullMQ'];

export type LatencyFigure = `${LatencySystem} ${'p50' | 'p99' | 'max'}`;

/**
 * Milliseconds from the publish call to the handler call at a fixed rate, for the module
 * (publish + batch 100, concurrency 100, prefetch 100), a raw XADD / XREADGROUP COUNT 100 loop,
 * and BullMQ (add + worker at concurrency 100). Each run of each system has a fresh producer
 * process and a fresh consumer process, so no system inherits another's heap or the bench's; the first latencyWarmUpMs of
 * events are not measured (the processes compile their hot code and size their heaps then).
 */
export async function benchLatency(
  config: BenchConfig,
  url: string,
  redis: Redis,
): Promise<Record<LatencyFigure, Spread>> {
  const total = Math.round((config.latencyRatePerSec * config.latencyDurationMs) / 1_000);
  return repeat<LatencyFigure>(config.latencyRuns, async () => {
    const figures = {} as Record<LatencyFigure, number>;
    for (const system of SYSTEMS) {
      await redis.flushall();
      const warmUp = Math.round((config.latencyRatePerSec * config.latencyWarmUpMs) / 1_000);
      const samples = await measure(system, url, warmUp, total, config.latencyRatePerSec);
      samples.sort((a, b) => a - b);
      figures[`${system} p50`] = percentile(samples, 50);
      figures[`${system} p99`] = percentile(samples, 99);
      figures[`${system} max`] = samples[samples.length - 1];
    }
    await redis.flushall();
    return figures;
  });
}

/** One run of one system: a consumer process, then a producer process; the consumer's samples. */
async function measure(
  system: LatencySystem,
  url: string,
  warmUp: number,
  total: number,
  rate: number,
): Promise<number[]> {
  const env = {
    SYSTEM: system,
    REDIS_URL: url,
    WARM_UP: String(warmUp),
    TOTAL: String(total),
    RATE: String(rate),
  };
  const consumer = startChild(SCRIPT, { ...env, ROLE: 'consumer' }, { ipc: true });
  let producer: ChildProcess | undefined;
  try {
    await nextReport<LatencyReport>(consumer, 'ready');
    const received = nextReport<LatencyReport>(consumer, 'received');
    producer = startChild(SCRIPT, { ...env, ROLE: 'producer' }, { ipc: true });
    await nextReport<LatencyReport>(producer, 'sent');
    const report = await received;
    return report.type === 'received' ? report.latenciesMs : [];
  } finally {
    await Promise.all([stopChild(consumer), producer && stopChild(producer)]);
  }
}
