import autocannon from 'autocannon';
import { existsSync } from 'node:fs';
import { freePort } from '@redis-streams-alerts/nestjs-redis-streams/testing';
import { startChild, stopChild } from './children.js';
import type { BenchConfig } from './config.js';
import { repeat, sleep, until, type Spread } from './stats.js';
import { ALERT } from './streams.js';

export type HttpSystem = 'service POST /alerts' | 'bare node:http + XADD';
export type HttpFigure = `${HttpSystem} ${'req/s' | 'p99 ms'}`;

const SERVICE = 'dist/main.js';
const BARE = 'dist-bench/bench/bare-intake-server.js';

/** Requests per second and p99 of POST /alerts on the built service, next to a bare handler. */
export async function benchHttp(
  config: BenchConfig,
  redisUrl: string,
  flush: () => Promise<unknown>,
): Promise<Record<HttpFigure, Spread>> {
  if (!existsSync(SERVICE)) throw new Error(`${SERVICE} is missing: run npm run build first`);
  return repeat<HttpFigure>(config.runs, async () => {
    const figures = {} as Record<HttpFigure, number>;
    for (const [system, script] of [
      ['service POST /alerts', SERVICE],
      ['bare node:http + XADD', BARE],
    ] as Array<[HttpSystem, string]>) {
      await flush();
      const port = await freePort();
      const child = startChild(script, {
        PORT: String(port),
        REDIS_URL: redisUrl,
        LOG_LEVEL: 'warn',
        CONSUMER_NAME: 'bench-http',
        ALERTS_WEBHOOK_URL: '',
      });
      try {
        const url = `http://127.0.0.1:${port}`;
        await until(() => answers(`${url}/health/live`, system), 30_000, `${system} to listen`);
        const run = (duration: number) =>
          autocannon({
            url: `${url}/alerts`,
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(ALERT),
            connections: config.httpConnections,
            duration,
          });
        await run(1);
        const result = await run(config.httpDurationSec);
        const failed = result.errors + result.timeouts + result.non2xx;
        if (failed > 0) throw new Error(`${system}: ${failed} of ${result.requests.total} failed`);
        figures[`${system} req/s`] = result.requests.average;
        figures[`${system} p99 ms`] = result.latency.p99;
      } finally {
        await stopChild(child);
      }
    }
    return figures;
  });
}

/** The service answers its liveness probe; the bare server answers anything once it listens. */
async function answers(url: string, system: HttpSystem): Promise<boolean> {
  try {
    const response = await fetch(url);
    return system === 'bare node:http + XADD' || response.ok;
  } catch {
    await sleep(50);
    return false;
  }
}
