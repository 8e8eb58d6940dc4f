import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { now } from './stats.js';
import { startModuleConsumer } from './streams.js';

/** What a consumer process tells the bench, every SAMPLE_MS and once more when asked to stop. */
export interface ConsumerReport {
  type: 'ready' | 'progress' | 'collected';
  acked: number;
  first: number;
  last: number;
  rss: number;
  /** V8 heap in use; after a full collection in a `collected` report. */
  heapUsed: number;
}

/** A full garbage collection, to tell memory still in use from memory V8 has not given back. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/**
 * One process running the library with a no-op handler (batch 100, concurrency 100, prefetch 100), as one
 * service instance would. Started by the bench with IPC; configured by environment variables.
 */
async function main(): Promise<void> {
  const env = process.env;
  let acked = 0;
  let first = 0;
  let last = 0;
  const report = (type: ConsumerReport['type']) => {
    const { rss, heapUsed } = process.memoryUsage();
    process.send?.({ type, acked, first, last, rss, heapUsed } satisfies ConsumerReport);
  };
  const app = await startModuleConsumer({
    url: env.REDIS_URL ?? '',
    stream: env.STREAM ?? '',
    group: env.GROUP ?? '',
    consumerName: env.CONSUMER_NAME ?? '',
    batchSize: 100,
    concurrency: 100,
    prefetch: 100,
    onAcked: () => {
      const t = now();
      if (acked === 0) first = t;
      last = t;
      acked += 1;
    },
  });
  const timer = setInterval(() => report('progress'), Number(env.SAMPLE_MS ?? 100));
  process.on('message', (message) => {
    if (message === 'collect') {
      collectGarbage();
      report('collected');
      return;
    }
    if (message !== 'stop') return;
    clearInterval(timer);
    void app.close().then(() => {
      report('progress');
      process.disconnect?.();
      process.exit(0);
    });
  });
  report('ready');
}

void main().catch((error: unknown) => {
  process.stderr.write(`consumer process failed: ${String(error)}\n`);
  process.exit(1);
});
