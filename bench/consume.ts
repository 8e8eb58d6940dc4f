import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { nextReport, startChild, stopChild } from './children.js';
import type { BenchConfig } from './config.js';
import type { ConsumeReport, ConsumeSpec } from './consume-process.js';
import { now, repeat, until, type Spread } from './stats.js';
import { ALERT, fillStream } from './streams.js';

export const STREAM = 'bench-consume';
export const GROUP = 'bench';
export const QUEUE = 'bench';
const SCRIPT = 'dist-bench/bench/consume-process.js';

/**
 * First and last acknowledgement of a run: throughput is (count - 1) / (last - first), counted
 * from the acknowledgement after the first `warmUp` ones (the process compiles its hot code then).
 */
export class AckClock {
  count = 0;
  first = 0;
  last = 0;

  constructor(private readonly warmUp = 0) {}

  ack = (): void => {
    const t = now();
    if (this.count === this.warmUp) this.first = t;
    this.last = t;
    this.count += 1;
  };

  perSecond(): number {
    return (this.count - this.warmUp - 1) / ((this.last - this.first) / 1_000);
  }
}

export const moduleConfigs = {
  'module, defaults (batch 16, concurrency 8)': {
    batchSize: undefined,
    concurrency: undefined,
    prefetch: undefined,
  },
  'module, batch 100, concurrency 100': { batchSize: 100, concurrency: 100, prefetch: 0 },
  'module, batch 100, concurrency 100, prefetch 100': {
    batchSize: 100,
    concurrency: 100,
    prefetch: 100,
  },
  // A no-op batch handler: one call per 100 entries, each entry still settled on its own.
  'module, batch handler of 100, prefetch 100': {
    batchSize: undefined,
    concurrency: 1,
    prefetch: 100,
    batch: { maxSize: 100, maxWaitMs: 10 },
  },
} as const;

export type ConsumeFigure =
  keyof typeof moduleConfigs | 'raw XREADGROUP COUNT 100 + XACK' | `BullMQ concurrency ${number}`;

/** Redis commands per consumed event, by command, from INFO commandstats (last run). */
export const commandsPerEvent: Record<string, Record<string, number>> = {};

async function countCommands(redis: Redis, name: string, events: number): Promise<void> {
  const info = await redis.info('commandstats');
  const calls: Record<string, number> = {};
  for (const [, command, count] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (command !== 'info' && command !== 'config|resetstat')
      calls[command] = Number(count) / events;
  }
  commandsPerEvent[name] = calls;
}

/**
 * Events per second through a no-op handler, on a stream (or queue) filled beforehand. Each run of
 * each system is a fresh process, as a service instance would run it: none inherits the heap of
 * the bench (which has just published hundreds of thousands of events) or of another system.
 */
export async function benchConsume(
  config: BenchConfig,
  url: string,
  port: number,
  redis: Redis,
): Promise<Record<ConsumeFigure, Spread>> {
  const events = config.consumeEvents;
  const warmUp = config.consumeWarmUpEvents;
  const total = warmUp + events;
  return repeat<ConsumeFigure>(config.consumeRuns, async () => {
    const rates = {} as Record<ConsumeFigure, number>;

    for (const [name, settings] of Object.entries(moduleConfigs)) {
      await redis.flushall();
      await fillStream(redis, STREAM, total);
      await redis.config('RESETSTAT');
      rates[name as ConsumeFigure] = await inProcess(
        url,
        { system: 'module', ...settings },
        warmUp,
        events,
      );
      await countCommands(redis, name, total);
    }

    await redis.flushall();
    await fillStream(redis, STREAM, total);
    await redis.config('RESETSTAT');
    rates['raw XREADGROUP COUNT 100 + XACK'] = await inProcess(
      url,
      { system: 'raw' },
      warmUp,
      events,
    );
    await countCommands(redis, 'raw XREADGROUP COUNT 100 + XACK', total);

    for (const concurrency of config.bullmqConcurrency) {
      await redis.flushall();
      await fillQueue(port, total);
      rates[`BullMQ concurrency ${concurrency}`] = await inProcess(
        url,
        { system: 'BullMQ', concurrency },
        warmUp,
        events,
      );
    }
    await redis.flushall();
    return rates;
  });
}

/**
 * Runs one consumer in a fresh process until it has taken `warmUp` + `events`; its events per
 * second over the last `events`.
 */
async function inProcess(
  url: string,
  spec: ConsumeSpec,
  warmUp: number,
  events: number,
): Promise<number> {
  const child = startChild(
    SCRIPT,
    { REDIS_URL: url, SPEC: JSON.stringify(spec), WARM_UP: String(warmUp), EVENTS: String(events) },
    { ipc: true },
  );
  try {
    const report = await nextReport<ConsumeReport>(child, 'done', Math.max(120_000, events * 2));
    return report.perSecond;
  } finally {
    await stopChild(child);
  }
}

/**
 * The least a Redis Streams consumer can do: read 100, run the no-op handler on each decoded
 * payload, and acknowledge the batch with one XACK sent in the same pipeline as the next read.
 */
export async function rawLoop(
  redis: Redis,
  events: number,
  onHandle?: (payload: unknown) => void,
  stream = STREAM,
  warmUp = 0,
): Promise<number> {
  const connection = redis.duplicate();
  try {
    await connection.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM');
    const clock = new AckClock(warmUp);
    let toAck: string[] = [];
    let read = 0;
    while (clock.count < events) {
      const pipeline = connection.pipeline();
      if (toAck.length > 0) pipeline.xack(stream, GROUP, ...toAck);
      // Once every event is read, the last XACK goes alone instead of waiting behind a blocked read.
      if (read < events) {
        pipeline.xreadgroup(
          'GROUP',
          GROUP,
          'raw-1',
          'COUNT',
          100,
          'BLOCK',
          1_000,
          'STREAMS',
          stream,
          '>',
        );
      }
      const replies = (await pipeline.exec()) ?? [];
      for (let i = 0; i < toAck.length; i++) clock.ack();
      toAck = [];
      if (read >= events) continue;
      const [error, reply] = replies[replies.length - 1];
      if (error) throw error;
      for (const [, entries] of (reply ?? []) as Array<[string, Array<[string, string[]]>]>) {
        for (const [id, fields] of entries) {
          const payload: unknown = JSON.parse(fields[fields.indexOf('payload') + 1]);
          onHandle?.(payload);
          toAck.push(id);
          read += 1;
        }
      }
    }
    return clock.perSecond();
  } finally {
    connection.disconnect();
  }
}

/** Adds `events` BullMQ jobs with addBulk, removed on completion. */
async function fillQueue(port: number, events: number): Promise<void> {
  const queue = new Queue(QUEUE, { connection: bullmqConnection(port) });
  try {
    for (let start = 0; start < events; start += 1_000) {
      const count = Math.min(1_000, events - start);
      await queue.addBulk(
        Array.from({ length: count }, () => ({
          name: 'alert',
          data: ALERT,
          opts: { removeOnComplete: true, removeOnFail: true },
        })),
      );
    }
  } finally {
    await queue.close();
  }
}

/** A BullMQ worker with a no-op processor on the jobs of `fillQueue`. */
export async function bullmqWorker(
  port: number,
  events: number,
  concurrency: number,
  warmUp = 0,
): Promise<number> {
  const clock = new AckClock(warmUp);
  const worker = new Worker(QUEUE, async () => undefined, {
    connection: bullmqConnection(port),
    concurrency,
  });
  worker.on('completed', clock.ack);
  try {
    await until(() => clock.count >= events, Math.max(120_000, events * 2), 'BullMQ to consume');
  } finally {
    await worker.close();
  }
  return clock.perSecond();
}

export const bullmqConnection = (port: number) => ({ host: '127.0.0.1', port });
