import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from '@redis-streams-alerts/nestjs-redis-streams/testing';
import { nextReport, startChild, stopChild } from './children.js';
import type { ReceiverMessage } from './receiver-process.js';
import { sleep, until } from './stats.js';

const SERVICE = 'dist/main.js';
const RECEIVER = 'dist-bench/bench/receiver-process.js';
const BARE_INTAKE = 'dist-bench/bench/bare-intake-server.js';

/** The built service in a process of its own. */
export interface BenchService {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `node dist/main.js` in `role` against the bench's Redis, with its webhook at
 * `webhookUrl` (none: alerts are logged, and the log level hides them), and waits until it is
 * ready. `nodeArgs` go to node itself, e.g. `--cpu-prof` for a profile.
 */
export async function startService(options: {
  role: 'all' | 'api' | 'worker';
  redisUrl: string;
  consumerName: string;
  webhookUrl?: string;
  nodeArgs?: string[];
}): Promise<BenchService> {
  if (!existsSync(SERVICE)) throw new Error(`${SERVICE} is missing: run npm run build first`);
  const port = await freePort();
  const child = startChild(
    SERVICE,
    {
      PORT: String(port),
      PROCESS_ROLE: options.role,
      REDIS_URL: options.redisUrl,
      LOG_LEVEL: 'warn',
      CONSUMER_NAME: options.consumerName,
      ALERTS_WEBHOOK_URL: options.webhookUrl ?? '',
    },
    { nodeArgs: options.nodeArgs },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await until(
      () => child.exitCode !== null || answers(`${url}/health/ready`),
      30_000,
      `the ${options.role} service to be ready`,
    );
    if (child.exitCode !== null) throw new Error(`dist/main.js exited ${child.exitCode} at start`);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { url, child, stop: () => stopChild(child, 15_000) };
}

/** A webhook receiver process (`receiver-process.ts`). */
export interface BenchReceiver {
  url: string;
  /** The monotonic times at which the receiver had taken each of `counts` requests. */
  times(counts: number[], timeoutMs: number): Promise<number[]>;
  stop(): Promise<void>;
}

export async function startReceiver(): Promise<BenchReceiver> {
  const child = startChild(RECEIVER, {}, { ipc: true });
  const { port } = (await nextReport<ReceiverMessage>(child, 'listening')) as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hook`,
    times: (counts, timeoutMs) =>
      new Promise((resolve, reject) => {
        const times = new Map<number, number>();
        const timer = setTimeout(() => {
          child.off('message', onMessage);
          reject(new Error(`the receiver did not get ${Math.max(...counts)} requests in time`));
        }, timeoutMs);
        const onMessage = (message: ReceiverMessage) => {
          if (message.type !== 'mark') return;
          times.set(message.count, message.atMs);
          if (times.size < counts.length) return;
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(counts.map((count) => times.get(count)!));
        };
        child.on('message', onMessage);
        child.send({ type: 'watch', counts } satisfies ReceiverMessage);
      }),
    stop: () => stopChild(child),
  };
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url);
    await response.body?.cancel();
    return response.ok;
  } catch {
    await sleep(50);
    return false;
  }
}

/** The bare intake server (`bare-intake-server.ts`), once it listens. */
export async function startBareIntake(redisUrl: string): Promise<BenchService> {
  const port = await freePort();
  const child = startChild(BARE_INTAKE, { PORT: String(port), REDIS_URL: redisUrl }, { ipc: true });
  await nextReport<{ type: 'listening' }>(child, 'listening', 30_000);
  return { url: `http://127.0.0.1:${port}`, child, stop: () => stopChild(child) };
}
