import type { BenchConfig } from './config.js';
import { fixedRatePost, wrkPost } from './load.js';
import { startBareIntake, startReceiver, startService, type BenchService } from './service.js';
import { cpuSeconds, repeat, type Spread } from './stats.js';
import { ALERT } from './streams.js';

/** The three servers of the intake section, in the order each run measures them. */
export const INTAKE_SYSTEMS = [
  'bare node:http + XADD',
  'service, api role',
  'service, all-in-one',
] as const;
export type IntakeSystem = (typeof INTAKE_SYSTEMS)[number];

export const FIXED_RATE = 'all-in-one at a fixed rate';
export type IntakeFigure =
  | `${IntakeSystem} ${'req/s' | 'p99 ms' | 'CPU µs/req'}`
  | `${typeof FIXED_RATE} ${'p50' | 'p99' | 'max'} ms`;

const BODY = JSON.stringify(ALERT);

/**
 * POST /alerts at full speed on three servers, one after the other in each run, each fresh, on a
 * flushed Redis, with the same body and connections: the bare `node:http` server (parse, one XADD,
 * 202), the service in the api role (no consumers anywhere), and the service in the all-in-one
 * role (API plus the recorder and webhook groups, webhook to a local receiver process). Then the
 * all-in-one again, fresh, at a fixed rate, for its latency.
 */
export async function benchIntake(
  config: BenchConfig,
  redisUrl: string,
  flush: () => Promise<unknown>,
  profileDir?: string,
): Promise<Record<IntakeFigure, Spread>> {
  return repeat<IntakeFigure>(config.runs, async () => {
    const figures = {} as Record<IntakeFigure, number>;
    const receiver = await startReceiver();
    try {
      for (const system of INTAKE_SYSTEMS) {
        await flush();
        const server = await start(system, redisUrl, receiver.url, profileDir);
        try {
          const url = `${server.url}/alerts`;
          await wrkPost(url, BODY, config.intakeConnections, config.intakeWarmUpSec);
          const cpuBefore = cpuSeconds(server.child.pid!);
          const result = await wrkPost(
            url,
            BODY,
            config.intakeConnections,
            config.intakeDurationSec,
          );
          const cpu = cpuSeconds(server.child.pid!) - cpuBefore;
          if (result.failed > 0) {
            throw new Error(`${system}: ${result.failed} of ${result.requests} requests failed`);
          }
          figures[`${system} req/s`] = result.requestsPerSec;
          figures[`${system} p99 ms`] = result.p99Ms;
          // What the server process spent per request: unlike req/s, barely moved by other load.
          figures[`${system} CPU µs/req`] = (cpu / result.requests) * 1e6;
        } finally {
          await server.stop();
        }
      }
      await flush();
      const service = await start('service, all-in-one', redisUrl, receiver.url);
      try {
        const url = `${service.url}/alerts`;
        const { intakeConnections: connections, intakeFixedRate: rate } = config;
        await fixedRatePost(url, BODY, connections, rate, config.intakeWarmUpSec);
        const result = await fixedRatePost(url, BODY, connections, rate, config.intakeDurationSec);
        if (result.failed > 0) throw new Error(`fixed rate: ${result.failed} requests failed`);
        figures[`${FIXED_RATE} p50 ms`] = result.p50Ms;
        figures[`${FIXED_RATE} p99 ms`] = result.p99Ms;
        figures[`${FIXED_RATE} max ms`] = result.maxMs;
      } finally {
        await service.stop();
      }
    } finally {
      await receiver.stop();
    }
    return figures;
  });
}

function start(
  system: IntakeSystem,
  redisUrl: string,
  webhookUrl: string,
  profileDir?: string,
): Promise<BenchService> {
  // --cpu-prof writes the profile when the process exits: main.ts exits 0 after SIGTERM.
  const nodeArgs = profileDir
    ? [
        '--cpu-prof',
        `--cpu-prof-dir=${profileDir}`,
        `--cpu-prof-name=${slug(system)}-${Date.now()}.cpuprofile`,
      ]
    : undefined;
  switch (system) {
    case 'bare node:http + XADD':
      return startBareIntake(redisUrl);
    case 'service, api role':
      return startService({ role: 'api', redisUrl, consumerName: 'bench-api', nodeArgs });
    case 'service, all-in-one':
      return startService({
        role: 'all',
        redisUrl,
        consumerName: 'bench-all',
        webhookUrl,
        nodeArgs,
      });
  }
}

const slug = (text: string) => text.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
