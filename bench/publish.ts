import { spawn } from 'node:child_process';
import type { Redis } from 'ioredis';
import type { BenchConfig } from './config.js';
import { now, repeat, type Spread } from './stats.js';
import { ALERT, entryFields, startModulePublisher } from './streams.js';

export type PublishFigure =
  | 'module.publish sequential'
  | 'module.publish in flight'
  | 'module.publishMany batches'
  | 'raw XADD sequential'
  | 'raw XADD pipelined batches'
  | 'redis-benchmark XADD -c 50 -P 1'
  | 'redis-benchmark XADD -c 50 -P 32';

const STREAM = 'bench-publish';

/** Events per second of each way to append events, each against the same Redis in the same run. */
export async function benchPublish(
  config: BenchConfig,
  url: string,
  port: number,
  redis: Redis,
): Promise<Record<PublishFigure, Spread>> {
  const { publishSequential: seq, publishBulk: bulk, publishInFlight, batchSize } = config;
  const { app, publisher } = await startModulePublisher(url);
  try {
    return await repeat<PublishFigure>(config.runs, async () => {
      const rates = {} as Record<PublishFigure, number>;
      const measure = async (figure: PublishFigure, count: number, run: () => Promise<void>) => {
        await redis.flushall();
        const started = now();
        await run();
        rates[figure] = count / ((now() - started) / 1_000);
      };

      await measure('module.publish sequential', seq, async () => {
        for (let i = 0; i < seq; i++) await publisher.publish(STREAM, ALERT);
      });
      await measure('module.publish in flight', bulk, async () => {
        let next = 0;
        const lane = async () => {
          while (next++ < bulk) await publisher.publish(STREAM, ALERT);
        };
        await Promise.all(Array.from({ length: publishInFlight }, lane));
      });
      await measure('module.publishMany batches', bulk, async () => {
        for (let sent = 0; sent < bulk; sent += batchSize) {
          await publisher.publishMany(
            STREAM,
            Array.from({ length: batchSize }, () => ({ payload: ALERT })),
          );
        }
      });
      await measure('raw XADD sequential', seq, async () => {
        for (let i = 0; i < seq; i++) await redis.xadd(STREAM, '*', ...entryFields(`e${i}`, ALERT));
      });
      await measure('raw XADD pipelined batches', bulk, async () => {
        for (let sent = 0; sent < bulk; sent += batchSize) {
          const pipeline = redis.pipeline();
          for (let i = 0; i < batchSize; i++) {
            pipeline.xadd(STREAM, '*', ...entryFields(`e${sent + i}`, ALERT));
          }
          await pipeline.exec();
        }
      });
      await redis.flushall();
      rates['redis-benchmark XADD -c 50 -P 1'] = await redisBenchmark(
        port,
        config.redisBenchmarkRequests,
        1,
      );
      await redis.flushall();
      rates['redis-benchmark XADD -c 50 -P 32'] = await redisBenchmark(
        port,
        config.redisBenchmarkPipelinedRequests,
        32,
      );
      await redis.flushall();
      return rates;
    });
  } finally {
    await app.close();
  }
}

/** The XADD ceiling of this Redis on this machine: `redis-benchmark --csv`, requests per second. */
async function redisBenchmark(port: number, requests: number, pipeline: number): Promise<number> {
  const args = ['-p', String(port), '-n', String(requests), '-c', '50', '-P', String(pipeline)];
  const child = spawn('redis-benchmark', [...args, '--csv', 'XADD', 'bench', '*', 'f', 'v'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  // "test","rps",... then "XADD bench * f v","86206.90",...
  const row = out.split('\n').find((line) => line.startsWith('"XADD'));
  const rps = row ? Number(row.split(',')[1]?.replaceAll('"', '')) : NaN;
  if (code !== 0 || !Number.isFinite(rps)) {
    throw new Error(`redis-benchmark ${args.join(' ')} failed (exit ${code}): ${out}`);
  }
  return rps;
}
