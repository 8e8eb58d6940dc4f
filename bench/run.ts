import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { TestRedis } from '@redis-streams-alerts/nestjs-redis-streams/testing';
import { renderChart } from './chart.js';
import { killAllChildren } from './children.js';
import { benchConfig } from './config.js';
import { benchConsume, commandsPerEvent } from './consume.js';
import { benchDelivery } from './delivery.js';
import { benchIntake } from './intake.js';
import { benchLatency } from './latency.js';
import { describeMachine, quietness } from './machine.js';
import { benchPublish } from './publish.js';
import { benchRedisMemory } from './redis-memory.js';
import { benchMemory, benchScaling } from './processes.js';
import {
  chartPanels,
  intakeSections,
  intakeSummary,
  renderMarkdown,
  summaryLine,
  type Results,
} from './report.js';
import type { Spread } from './stats.js';

/**
 * `npm run bench` / `npm run bench:smoke`: starts a throwaway redis-server, runs every benchmark
 * against it, writes the report and chart, and ends with the summary line.
 */
async function main(): Promise<void> {
  const config = benchConfig(process.argv.slice(2));
  const startedAt = new Date();
  const atStart = quietness();
  if (atStart.jest) console.warn('bench: a jest process is running; the figures will be noisy');
  const redis = await TestRedis.start();
  redisServer = redis;
  const client = redis.client();
  const step = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    console.log(`bench: ${name}...`);
    const result = await run();
    console.log(`bench: ${name} done in ${((Date.now() - t) / 1_000).toFixed(1)} s`);
    return result;
  };
  try {
    const argv = process.argv.slice(2);
    const only = onlySections(argv);
    if (only) {
      // `--only=publish,consume`: a quick look at some sections while working on them; no report.
      // `--profile=DIR` with `--only=intake`: CPU profiles of the service processes, into DIR.
      const runners: Record<string, () => Promise<unknown>> = {
        publish: () => benchPublish(config, redis.url, redis.port, client),
        consume: () => benchConsume(config, redis.url, redis.port, client),
        latency: () => benchLatency(config, redis.url, client),
        intake: () => benchIntake(config, redis.url, () => client.flushall(), profileDir(argv)),
        delivery: () => benchDelivery(config, redis.url, client),
        memory: () => benchMemory(config, redis.url, client),
        scaling: () => benchScaling(config, redis.url, client),
        redis: () => benchRedisMemory(config),
      };
      const done: Record<string, Record<string, Spread>> = {};
      for (const name of only) {
        const figures = (await step(name, runners[name])) as Record<string, Spread>;
        done[name] = figures;
        for (const [figure, s] of Object.entries(figures)) {
          console.log(`${name}: ${figure}: ${JSON.stringify(s)}`);
        }
      }
      if (done.intake && done.delivery) {
        const results = { intake: done.intake, delivery: done.delivery };
        const file = join(
          config.reportDir === 'docs' ? 'dist-bench' : config.reportDir,
          'intake.md',
        );
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, `${intakeSections(results, config)}\n\n${intakeSummary(results)}\n`);
        console.log(`bench: sections 4 and 5 of the report in ${file}`);
      }
      return;
    }
    const results: Results = {
      publish: await step('publish', () => benchPublish(config, redis.url, redis.port, client)),
      consume: await step('consume', () => benchConsume(config, redis.url, redis.port, client)),
      latency: await step('latency', () => benchLatency(config, redis.url, client)),
      intake: await step('intake', () => benchIntake(config, redis.url, () => client.flushall())),
      delivery: await step('delivery', () => benchDelivery(config, redis.url, client)),
      memory: await step('memory', () => benchMemory(config, redis.url, client)),
      scaling: await step('scaling', () => benchScaling(config, redis.url, client)),
      redis: await step('redis memory', () => benchRedisMemory(config)),
      commandsPerEvent,
    };
    const atEnd = quietness();
    const summary = summaryLine(results);
    mkdirSync(config.reportDir, { recursive: true });
    writeFileSync(join(config.reportDir, 'benchmarks.svg'), renderChart(chartPanels(results)));
    const markdown = await renderMarkdown(
      results,
      {
        config,
        machine: describeMachine(),
        startedAt,
        durationSec: (Date.now() - startedAt.getTime()) / 1_000,
        quiet: {
          jestAtStart: atStart.jest,
          jestAtEnd: atEnd.jest,
          loadAtStart: atStart.load,
          loadAtEnd: atEnd.load,
        },
      },
      'benchmarks.svg',
      summary,
    );
    writeFileSync(join(config.reportDir, 'benchmarks.md'), markdown);
    const { commandsPerEvent: perEvent, ...figures } = results;
    for (const [consumer, calls] of Object.entries(perEvent)) {
      console.log(`commands per event: ${consumer}: ${JSON.stringify(calls)}`);
    }
    for (const [section, named] of Object.entries(figures)) {
      for (const [name, s] of Object.entries(named)) {
        const show = (n: number) => n.toFixed(2);
        console.log(`${section}: ${name}: ${show(s.median)} [${show(s.min)}..${show(s.max)}]`);
      }
    }
    console.log(`bench: report in ${join(config.reportDir, 'benchmarks.md')}`);
    console.log(summary);
  } finally {
    client.disconnect();
    killAllChildren();
    await redis.close();
  }
}

const SECTIONS = [
  'publish',
  'consume',
  'latency',
  'intake',
  'delivery',
  'memory',
  'scaling',
  'redis',
];

function profileDir(argv: string[]): string | undefined {
  const flag = argv.find((arg) => arg.startsWith('--profile='));
  return flag ? resolve(flag.slice('--profile='.length)) : undefined;
}

function onlySections(argv: string[]): string[] | undefined {
  const flag = argv.find((arg) => arg.startsWith('--only='));
  if (!flag) return undefined;
  const names = flag.slice('--only='.length).split(',');
  const unknown = names.filter((name) => !SECTIONS.includes(name));
  if (unknown.length > 0)
    throw new Error(`unknown section(s) ${unknown.join(', ')}; use ${SECTIONS}`);
  return names;
}

let redisServer: TestRedis | undefined;

const abort = (): void => {
  killAllChildren();
  void (redisServer?.close() ?? Promise.resolve()).finally(() => process.exit(130));
};
process.on('SIGINT', abort);
process.on('SIGTERM', abort);

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error('bench failed:', error);
    killAllChildren();
    process.exit(1);
  },
);
