import { existsSync, readFileSync } from 'node:fs';
import { format, resolveConfig } from 'prettier';
import { compact, type Bar } from './chart.js';
import type { BenchConfig } from './config.js';
import type { Machine } from './machine.js';
import { MEMORY_VARIANTS, PER_ALERT } from './redis-memory.js';
import { spread, type Spread } from './stats.js';

export interface Results {
  publish: Record<string, Spread>;
  consume: Record<string, Spread>;
  latency: Record<string, Spread>;
  /** POST /alerts: bare server, api role, all-in-one; all-in-one latency at a fixed rate. */
  intake: Record<string, Spread>;
  /** Webhook delivery: bare loop, the service's webhook group, sustained capacity. */
  delivery: Record<string, Spread>;
  memory: Record<string, Spread>;
  scaling: Record<string, Spread>;
  /** Redis memory per alert through the service (see redis-memory.ts). */
  redis: Record<string, Spread>;
  /** Redis commands per consumed event, by consumer and command (last run). */
  commandsPerEvent: Record<string, Record<string, number>>;
}

export interface RunInfo {
  config: BenchConfig;
  machine: Machine;
  startedAt: Date;
  durationSec: number;
  quiet: { jestAtStart: boolean; jestAtEnd: boolean; loadAtStart: number; loadAtEnd: number };
}

const MODULE_TUNED = 'module, batch 100, concurrency 100, prefetch 100';
const RAW_CONSUME = 'raw XREADGROUP COUNT 100 + XACK';

/** The ratios of the summary line, from the medians. */
export function summaryLine(results: Results): string {
  const { consume, publish, latency, memory, redis } = results;
  const bullmqBest = Math.max(
    ...Object.entries(consume)
      .filter(([name]) => name.startsWith('BullMQ'))
      .map(([, s]) => s.median),
  );
  const r1 = consume[MODULE_TUNED].median / consume[RAW_CONSUME].median;
  const r2 = consume[MODULE_TUNED].median / bullmqBest;
  const r3 =
    publish['module.publishMany batches'].median / publish['raw XADD pipelined batches'].median;
  return (
    `bench: consume framework/raw=${r1.toFixed(2)} framework/bullmq=${r2.toFixed(2)} ` +
    `publish framework/raw=${r3.toFixed(2)} p99_ms=${latency['module p99'].median.toFixed(1)} ` +
    `${intakeSummary(results)} ` +
    `rss_growth_mb=${memory['rss growth MB'].median.toFixed(1)} ` +
    `redis_b_per_alert=${redisPerAlert(redis).toFixed(0)}`
  );
}

/** The intake and delivery part of the summary line. */
export function intakeSummary(results: Pick<Results, 'intake' | 'delivery'>): string {
  const ratios = intakeRatios(results);
  const show = (name: string) => ratios[name].median.toFixed(2);
  return (
    `intake api/bare=${show('api role / bare intake')} all/bare=${show('all-in-one / bare intake')} ` +
    `p99_2k_ms=${results.intake['all-in-one at a fixed rate p99 ms'].median.toFixed(1)} ` +
    `delivery service/bare=${show('service webhook / bare delivery loop')} ` +
    `capacity/bare=${show('sustained capacity / bare delivery loop')}`
  );
}

/** Redis memory per alert at steady state, of the costlier way to post alerts (median). */
function redisPerAlert(redis: Record<string, Spread>): number {
  return Math.max(...MEMORY_VARIANTS.map((variant) => redis[`${variant}: ${PER_ALERT}`].median));
}

const BARE_INTAKE = 'bare node:http + XADD req/s';
const BARE_DELIVERY = 'bare delivery loop alerts/s';

/** Each figure divided by the baseline of its own run, then the spread of those ratios. */
function ratio(figure: Spread, baseline: Spread): Spread {
  return spread(figure.runs.map((value, run) => value / baseline.runs[run]));
}

/** The ratios the targets of issue 18 are about, each taken within one run. */
export function intakeRatios(
  results: Pick<Results, 'intake' | 'delivery'>,
): Record<string, Spread> {
  const { intake, delivery } = results;
  return {
    'api role / bare intake': ratio(intake['service, api role req/s'], intake[BARE_INTAKE]),
    'all-in-one / bare intake': ratio(intake['service, all-in-one req/s'], intake[BARE_INTAKE]),
    'service webhook / bare delivery loop': ratio(
      delivery['service webhook, all-in-one alerts/s'],
      delivery[BARE_DELIVERY],
    ),
    'sustained capacity / bare delivery loop': ratio(
      delivery['sustained capacity, all-in-one alerts/s'],
      delivery[BARE_DELIVERY],
    ),
  };
}

const kindOf = (name: string): Bar['kind'] =>
  name.startsWith('module')
    ? 'module'
    : name.startsWith('BullMQ')
      ? 'bullmq'
      : name.startsWith('redis-benchmark')
        ? 'ceiling'
        : 'raw';

export function chartPanels(results: Results) {
  const bars = (figures: Record<string, Spread>) =>
    Object.entries(figures).map(([label, value]) => ({ label, value, kind: kindOf(label) }));
  return [
    {
      title: 'Consume: no-op handler, pre-filled events',
      unit: 'ev/s',
      bars: bars(results.consume),
    },
    { title: 'Publish', unit: 'ev/s', bars: bars(results.publish) },
  ];
}

const rate = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => n.toFixed(2);
const mb = (n: number) => n.toFixed(1);

function table(
  header: string[],
  figures: Record<string, Spread>,
  show: (n: number) => string,
  runs: number,
): string {
  const spreadCells = (s: Spread) => (runs > 1 ? [show(s.min), show(s.max)] : []);
  const cols = runs > 1 ? [...header, 'min', 'max'] : header;
  return [
    `| ${cols.join(' | ')} |`,
    `| ${cols.map(() => '---').join(' | ')} |`,
    ...Object.entries(figures).map(
      ([name, s]) => `| ${[name, show(s.median), ...spreadCells(s)].join(' | ')} |`,
    ),
  ].join('\n');
}

function commandTable(perEvent: Record<string, Record<string, number>>): string {
  const commands = [...new Set(Object.values(perEvent).flatMap((c) => Object.keys(c)))].sort();
  return [
    `| consumer | ${commands.join(' | ')} |`,
    `| --- | ${commands.map(() => '---').join(' | ')} |`,
    ...Object.entries(perEvent).map(
      ([name, calls]) =>
        `| ${name} | ${commands.map((c) => (calls[c] ?? 0).toFixed(3)).join(' | ')} |`,
    ),
  ].join('\n');
}

/**
 * Sections 4 and 5 (intake and delivery), also printed alone by `--only=intake,delivery`: a run
 * of those two sections can replace them in an existing report.
 */
export function intakeSections(
  results: Pick<Results, 'intake' | 'delivery'>,
  config: BenchConfig,
): string {
  const runs = config.runs;
  return `## 4. Intake: POST /alerts

Three servers, one after the other in each run, each a fresh process on a flushed Redis: the bare
\`node:http\` server (parse the JSON, one XADD, 202; \`bench/bare-intake-server.ts\`), the built
service (\`node dist/main.js\`) in the api role (\`PROCESS_ROLE=api\`: no consumers, none
elsewhere either), and the service all-in-one (\`PROCESS_ROLE=all\`: the API plus the recorder and
webhook groups, its webhook at a trivial receiver in a process of its own). wrk, one thread,
${config.intakeConnections} connections, the same JSON body, ${config.intakeDurationSec} s after
${config.intakeWarmUpSec} s not measured. Then the all-in-one again, fresh, at a fixed
${config.intakeFixedRate.toLocaleString('en-US')} requests/s (autocannon, the same connections,
every response's time kept) for ${config.intakeDurationSec} s after ${config.intakeWarmUpSec} s.

${table(['server, figure', 'value'], results.intake, (n) => (n > 1_000 ? rate(n) : ms(n)), runs)}

## 5. Webhook delivery (alerts/s)

${(config.deliveryWarmUp + config.deliveryAlerts).toLocaleString('en-US')} alerts appended before
each consumer starts, delivered to the same receiver process and timed there, over the last
${config.deliveryAlerts.toLocaleString('en-US')}. Bare loop (\`bench/bare-delivery-process.ts\`):
XREADGROUP COUNT 100, each entry POSTed with fetch (keep-alive) one after the other, one XACK per
batch. Service: the all-in-one process with its defaults, whose recorder group records the same
alerts meanwhile. Sustained capacity: the all-in-one process under POST /alerts at a fixed rate,
${config.capacitySteps} bisection steps of ${config.capacityStepSec} s between 0 and 1.25 times the
service's delivery rate above; a step passes when a line fitted to the webhook group's lag
(unread plus pending, read every 250 ms over the step's last three quarters) rises by less than
2 % of the rate per second; the figure is the highest rate that passed. (The issue asks for a
minute of flat lag; steps of a minute would make this section alone take a quarter of an hour.)

${table(['figure', 'alerts/s'], results.delivery, rate, runs)}

Ratios, each taken within one run (median of the runs):

${table(['ratio', 'value'], intakeRatios(results), (n) => n.toFixed(2), runs)}`;
}

export async function renderMarkdown(
  results: Results,
  info: RunInfo,
  chartFile: string,
  summary: string,
): Promise<string> {
  const { config, machine, quiet } = info;
  const runs = config.runs;
  const quietText =
    !quiet.jestAtStart && !quiet.jestAtEnd
      ? `yes: no jest process at start or end; load average ${quiet.loadAtStart.toFixed(2)} at start, ${quiet.loadAtEnd.toFixed(2)} at end`
      : `**no**: a jest process (another test suite) was running at ${[quiet.jestAtStart && 'start', quiet.jestAtEnd && 'end'].filter(Boolean).join(' and ')}; load average ${quiet.loadAtStart.toFixed(2)} / ${quiet.loadAtEnd.toFixed(2)}. Treat the figures as rough.`;
  const versions = Object.entries(machine.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  const median = runs > 1 ? `median of ${runs} runs, with min and max` : 'one run';
  const bullmqBest = Object.entries(results.consume)
    .filter(([name]) => name.startsWith('BullMQ'))
    .sort(([, a], [, b]) => b.median - a.median)[0][0];
  const ratios = intakeRatios(results);
  const ratioText = (name: string) => ratios[name].median.toFixed(2);
  const findings = existsSync('bench/findings.md') ? readFileSync('bench/findings.md', 'utf8') : '';

  const md = `# Benchmarks

Generated by \`${config.command}\` (${config.mode} mode); do not edit by hand. The harness is in
\`bench/\`: it starts its own \`redis-server\` (no persistence, free port) and measures each figure
against its baselines on that same Redis in the same run. Every figure is the ${median}.

| | |
| --- | --- |
| Date | ${info.startedAt.toISOString()} |
| Command | \`${config.command}\` (took ${Math.round(info.durationSec)} s) |
| Machine | ${machine.cores} cores, ${machine.memoryGb.toFixed(1)} GB memory, ${machine.cpuModel} |
| Software | Node.js ${machine.node}, Redis ${machine.redis}, ${versions} |
| Commit | ${machine.commit} (plus uncommitted changes, if any) |
| Quiet machine | ${quietText} |

![Consume and publish throughput](${chartFile})

Summary: the module consumes at ${(results.consume[MODULE_TUNED].median / results.consume[RAW_CONSUME].median).toFixed(2)}×
the raw loop and ${(results.consume[MODULE_TUNED].median / results.consume[bullmqBest].median).toFixed(2)}× ${bullmqBest}
(its best); \`publishMany\` appends at ${(results.publish['module.publishMany batches'].median / results.publish['raw XADD pipelined batches'].median).toFixed(2)}×
pipelined raw XADD. \`POST /alerts\` takes ${ratioText('api role / bare intake')}× the bare server's
requests in the api role and ${ratioText('all-in-one / bare intake')}× all-in-one (p99
${results.intake['all-in-one at a fixed rate p99 ms'].median.toFixed(1)} ms at ${config.intakeFixedRate.toLocaleString('en-US')}/s); the webhook group delivers at
${ratioText('service webhook / bare delivery loop')}× the bare delivery loop, and keeps up with
${ratioText('sustained capacity / bare delivery loop')}× of it arriving over HTTP.

## 1. Publish throughput (events/s)

${config.publishSequential.toLocaleString('en-US')} events for the variants that wait for each
publish, ${config.publishBulk.toLocaleString('en-US')} for the others. \`publish\` runs the
module's Lua script (de-duplication by eventId, then XADD); raw XADD writes the same fields. "In
flight" keeps ${config.publishInFlight} publishes outstanding; batches are ${config.batchSize}
events. redis-benchmark: \`redis-benchmark -p PORT -n N -c 50 -P 1|32 XADD bench '*' f v\` with
N = ${compact(config.redisBenchmarkRequests)} and ${compact(config.redisBenchmarkPipelinedRequests)}: the ceiling of this Redis.

${table(['variant', 'events/s'], results.publish, rate, runs)}

## 2. Consume throughput (events/s)

${(config.consumeWarmUpEvents + config.consumeEvents).toLocaleString('en-US')} events appended before the consumer starts;
each run of each consumer is a fresh process (\`bench/consume-process.ts\`), as one service
instance would run it, and throughput is over its last ${config.consumeEvents.toLocaleString('en-US')}, from the
first acknowledgement after ${config.consumeWarmUpEvents.toLocaleString('en-US')} to the last (its code is
compiled and its heap sized by then). The handler does nothing; the module and
the raw loop both decode the JSON payload. The raw loop reads with \`XREADGROUP COUNT 100\` and
acknowledges each batch with one XACK sent in the same pipeline as the next read. BullMQ jobs are
added with \`addBulk\` and removed on completion. The comparable pair for the summary is the
module at batch 100, concurrency 100, prefetch 100 (it reads the next batch while handlers run;
the row without prefetch shows what that brings) and the raw loop at COUNT 100. The batch
handler row is a no-op handler with \`batch: { maxSize: 100 }\` (one call per 100 entries, reads
of 100, one call at a time): each entry is still decoded, decided and acknowledged on its own.
Median of ${config.consumeRuns} runs, each system one after the other in each.

${table(['consumer', 'events/s'], results.consume, rate, config.consumeRuns)}

Redis commands per event while consuming (INFO commandstats, last run; \`evalsha\` is the
module's retry/reclaim scripts):

${commandTable(results.commandsPerEvent)}

## 3. End-to-end latency (ms)

${config.latencyRatePerSec.toLocaleString('en-US')} events/s for ${config.latencyDurationMs / 1_000} s, after
${config.latencyWarmUpMs / 1_000} s at the same rate that are not measured (the processes compile
their hot code and size their heaps); from the publish call to the handler call, on the machine's
monotonic clock. Each system runs in a fresh producer process and a fresh consumer process
(\`bench/latency-process.ts\`), so none inherits another's heap or the bench's. Module:
\`publish\` (not awaited one by one) and a handler at batch 100, concurrency 100, prefetch 100.
Raw: XADD and the raw loop above. BullMQ: \`queue.add\` and a worker at concurrency 100. Median
of ${config.latencyRuns} runs, the three systems one after the other in each.

${table(['system, percentile', 'ms'], results.latency, ms, config.latencyRuns)}

${intakeSections(results, config)}

## 6. Memory of one consumer process (MB)

RSS of one process running the module (batch 100, concurrency 100, prefetch 100, no-op handler) while
${config.memoryEvents.toLocaleString('en-US')} events flow through it, appended as it consumes with
at most 20,000 waiting. The fresh process first takes ${config.memoryWarmUpEvents.toLocaleString('en-US')}
events, as a service does in its first minutes (V8 sizes its heap to the load then, once). Cold:
idle after startup; start: idle after the warm-up; peak: highest sample (every 100 ms) during the
measured events; end: 1 s after the last event. Growth = end - start; trend: least-squares slope
of the RSS samples against events handled (0 = flat). Heap after GC: V8 heap in use after a full
collection, what the process really keeps.

${table(['figure', 'MB'], results.memory, mb, runs)}

## 7. Scaling: consumer processes in one group (events/s)

${config.scalingEvents.toLocaleString('en-US')} events appended once all processes are up and idle
(the group exists first, so none starts early); throughput over all processes from the first to
the last acknowledgement. Each process: batch 100, concurrency 100, prefetch 100. The machine has
${machine.cores} cores, shared with Redis and the bench.

${table(['processes', 'events/s'], results.scaling, rate, runs)}

## 8. Redis memory per alert (bytes)

A fresh redis-server (no persistence) and the built service with its webhook pointed at a local
receiver; ${config.redisMemoryAlerts.toLocaleString('en-US')} alerts (the typical alert of the other
sections, numbered) posted over HTTP, ${'`'}used_memory${'`'} read once both the recorder and the webhook
group have handled them all, and again before them (after a few warm-up alerts). Keys that
expire within 10 minutes (transient) are measured, then deleted before the second reading, as
they are gone at steady state. Per kind of key: ${'`'}MEMORY USAGE ... SAMPLES 0${'`'} averaged over up to 50
keys of that kind (the stream's over its entries), and what deleting all keys of that kind freed
per key, which also counts the key's entries in Redis's key and expiry tables. Posted with an ${'`'}Idempotency-Key${'`'} each (kept
24 h as the dedup key) and without one (generated eventIds). "At steady state" is the growth less
that of the keys shared by all alerts (the index of recent alerts, 1,000 entries at most, and the
groups' bookkeeping), which stop growing: what each further alert costs while its keys live.

${table(['variant: figure', 'value'], results.redis, (n) => (n >= 10 ? n.toFixed(0) : n.toFixed(2)), runs)}

${findings}

${summary}
`;
  const options = (await resolveConfig('docs/benchmarks.md')) ?? {};
  return format(md, { ...options, parser: 'markdown' });
}
