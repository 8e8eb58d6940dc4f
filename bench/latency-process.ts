import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { bullmqConnection, rawLoop } from './consume.js';
import { monotonicMs, sleep, until } from './stats.js';
import { ALERT, entryFields, startModuleConsumer, startModulePublisher } from './streams.js';

/** What a latency process tells the bench over IPC. */
export type LatencyReport =
  { type: 'ready' } | { type: 'sent'; count: number } | { type: 'received'; latenciesMs: number[] };

export type LatencySystem = 'module' | 'raw' | 'BullMQ';

interface Timed {
  sentAt: number;
  /** Sent before the measured events, while the processes warm up (JIT, heap sizing). */
  warmUp?: boolean;
}

const STREAM = 'bench-latency';
const QUEUE = 'bench-latency';

/**
 * One side of one latency run, in its own process: ROLE=consumer takes WARM_UP + TOTAL events and
 * reports, for the TOTAL after the warm-up, how long each took from its publish call (the payload's `sentAt`, on the machine's monotonic
 * clock, which every process shares) to its handler call; ROLE=producer publishes them at RATE per
 * second. SYSTEM says whose publisher and consumer: this module, raw ioredis or BullMQ.
 */
async function main(): Promise<void> {
  const env = process.env;
  const system = env.SYSTEM as LatencySystem;
  const total = Number(env.TOTAL);
  const warmUp = Number(env.WARM_UP);
  // Resolves once the report is written: a large one is still on its way when send() returns.
  const send = (report: LatencyReport) =>
    new Promise<void>((resolve) => process.send?.(report, undefined, {}, () => resolve()));
  if (env.ROLE === 'consumer') {
    const latencies: number[] = [];
    const record = (payload: unknown) => {
      const latency = monotonicMs() - (payload as Timed).sentAt;
      if (!(payload as Timed).warmUp) latencies.push(latency);
    };
    const stop = await startConsumer(system, warmUp + total, record);
    await send({ type: 'ready' });
    await until(() => latencies.length >= total, 60_000, `${system} to receive every event`);
    await stop();
    await send({ type: 'received', latenciesMs: latencies });
  } else {
    const { publish, stop } = await startProducer(system);
    await send({ type: 'ready' });
    let sent = 0;
    await atRate(Number(env.RATE), warmUp + total, (sentAt) =>
      publish({ ...ALERT, sentAt, ...(sent++ < warmUp ? { warmUp: true } : {}) }),
    );
    await stop();
    await send({ type: 'sent', count: total });
  }
  process.disconnect?.();
}

async function startConsumer(
  system: LatencySystem,
  total: number,
  record: (payload: unknown) => void,
): Promise<() => Promise<unknown>> {
  const url = process.env.REDIS_URL ?? '';
  if (system === 'module') {
    const app = await startModuleConsumer({
      url,
      stream: STREAM,
      group: 'bench',
      consumerName: 'bench-latency',
      batchSize: 100,
      concurrency: 100,
      prefetch: 100,
      onHandle: record,
      onAcked: () => undefined,
    });
    return () => app.close();
  }
  if (system === 'raw') {
    const redis = new Redis(url);
    const consuming = rawLoop(redis, total, record, STREAM);
    // The group exists once the loop has created it: events appended before are not missed.
    await until(async () => (await redis.exists(STREAM)) === 1, 10_000, 'the raw loop to start');
    return async () => {
      await consuming;
      redis.disconnect();
    };
  }
  const worker = new Worker(QUEUE, async (job) => record(job.data), {
    connection: bullmqConnection(Number(new URL(url).port)),
    concurrency: 100,
  });
  await worker.waitUntilReady();
  return () => worker.close();
}

async function startProducer(system: LatencySystem): Promise<{
  publish: (payload: Timed) => Promise<unknown>;
  stop: () => Promise<unknown>;
}> {
  const url = process.env.REDIS_URL ?? '';
  if (system === 'module') {
    const { app, publisher } = await startModulePublisher(url);
    return { publish: (payload) => publisher.publish(STREAM, payload), stop: () => app.close() };
  }
  if (system === 'raw') {
    const redis = new Redis(url);
    return {
      publish: (payload) => redis.xadd(STREAM, '*', ...entryFields(`e${payload.sentAt}`, payload)),
      stop: async () => redis.disconnect(),
    };
  }
  const queue = new Queue(QUEUE, { connection: bullmqConnection(Number(new URL(url).port)) });
  const opts = { removeOnComplete: true, removeOnFail: true };
  return { publish: (payload) => queue.add('alert', payload, opts), stop: () => queue.close() };
}

/**
 * Calls `publish` `rate` times a second until `total`, without waiting for one call before the
 * next; catches up after a late timer instead of drifting. Keeps a count of the calls in flight,
 * not the calls themselves, so that the harness holds no memory per event.
 */
async function atRate(
  rate: number,
  total: number,
  publish: (sentAt: number) => Promise<unknown>,
): Promise<void> {
  const started = monotonicMs();
  let sent = 0;
  let inFlight = 0;
  let failure: unknown;
  const settled = () => (inFlight -= 1);
  const failed = (error: unknown) => {
    failure ??= error;
    inFlight -= 1;
  };
  while (sent < total) {
    const due = Math.min(total, Math.floor(((monotonicMs() - started) / 1_000) * rate));
    for (; sent < due; sent++) {
      inFlight += 1;
      publish(monotonicMs()).then(settled, failed);
    }
    await sleep(1);
  }
  await until(() => inFlight === 0, 30_000, 'the last publishes');
  if (failure) throw failure;
}

void main().catch((error: unknown) => {
  process.stderr.write(`latency process failed: ${String(error)}\n`);
  process.exit(1);
});
