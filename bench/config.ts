/** Sizes of one bench run: `full` for the figures in docs/benchmarks.md, `smoke` to keep the harness working in CI. */
export interface BenchConfig {
  mode: 'full' | 'smoke';
  /** Each figure is the median of this many runs. */
  runs: number;
  /** Events per publish variant that waits for each publish (one round trip each). */
  publishSequential: number;
  /** Events per publish variant with many in flight or batched. */
  publishBulk: number;
  publishInFlight: number;
  batchSize: number;
  /** Requests per redis-benchmark run, without and with pipelining. */
  redisBenchmarkRequests: number;
  redisBenchmarkPipelinedRequests: number;
  /** Pre-filled events per consume run, measured after `consumeWarmUpEvents` more. */
  consumeEvents: number;
  /**
   * Events each fresh consumer process takes before the measured ones: it compiles its hot code
   * and sizes its heap meanwhile.
   */
  consumeWarmUpEvents: number;
  /** Runs of the consume section: its figures move by up to a quarter from run to run here. */
  consumeRuns: number;
  bullmqConcurrency: number[];
  latencyRatePerSec: number;
  latencyDurationMs: number;
  /** Runs of the latency section: its p99 moves most from run to run. */
  latencyRuns: number;
  /** Events at the same rate before the measured ones, not measured. */
  latencyWarmUpMs: number;
  /** Connections of every load generator in the intake and delivery sections. */
  intakeConnections: number;
  /**
   * Load before each measured one, not measured: the service's CPU per request falls for its
   * first 15,000 or so requests here (V8 compiles its hot code, sizes its heap), then holds.
   */
  intakeWarmUpSec: number;
  intakeDurationSec: number;
  /** POST /alerts per second at which the all-in-one latency is measured. */
  intakeFixedRate: number;
  /** Alerts appended for each delivery run, timed after `deliveryWarmUp` more. */
  deliveryAlerts: number;
  deliveryWarmUp: number;
  /** Bisection steps of the sustained-capacity search, and how long each posts at its rate. */
  capacitySteps: number;
  capacityStepSec: number;
  memoryEvents: number;
  /**
   * Events through the memory section's fresh process before its measured ones: RSS climbs for
   * the first 100,000-300,000 events on this machine (V8 and malloc sizing to the load), then
   * stays level.
   */
  memoryWarmUpEvents: number;
  scalingEvents: number;
  scalingProcesses: number[];
  /** Alerts posted to the service in the Redis memory section, per variant and run. */
  redisMemoryAlerts: number;
  /** Where the report goes. */
  reportDir: string;
  command: string;
}

const shared = {
  publishInFlight: 100,
  batchSize: 100,
  bullmqConcurrency: [1, 10, 100],
  latencyRatePerSec: 2_000,
  intakeConnections: 50,
  intakeFixedRate: 2_000,
  scalingProcesses: [1, 2, 4],
};

export function benchConfig(argv: string[]): BenchConfig {
  if (argv.includes('--smoke')) {
    return {
      ...shared,
      mode: 'smoke',
      runs: 1,
      publishSequential: 1_000,
      publishBulk: 5_000,
      redisBenchmarkRequests: 20_000,
      redisBenchmarkPipelinedRequests: 50_000,
      consumeEvents: 5_000,
      consumeWarmUpEvents: 1_000,
      consumeRuns: 1,
      latencyDurationMs: 2_000,
      latencyRuns: 1,
      latencyWarmUpMs: 500,
      intakeWarmUpSec: 2,
      intakeDurationSec: 2,
      deliveryAlerts: 2_000,
      deliveryWarmUp: 500,
      capacitySteps: 2,
      capacityStepSec: 3,
      memoryEvents: 20_000,
      memoryWarmUpEvents: 5_000,
      scalingEvents: 5_000,
      redisMemoryAlerts: 200,
      reportDir: 'dist-bench/smoke',
      command: 'npm run bench:smoke',
    };
  }
  return {
    ...shared,
    mode: 'full',
    runs: 3,
    publishSequential: 10_000,
    publishBulk: 50_000,
    redisBenchmarkRequests: 200_000,
    redisBenchmarkPipelinedRequests: 1_000_000,
    consumeEvents: 100_000,
    consumeWarmUpEvents: 30_000,
    consumeRuns: 5,
    latencyDurationMs: 10_000,
    latencyRuns: 5,
    latencyWarmUpMs: 2_000,
    intakeWarmUpSec: 15,
    intakeDurationSec: 10,
    deliveryAlerts: 20_000,
    deliveryWarmUp: 5_000,
    capacitySteps: 5,
    capacityStepSec: 10,
    memoryEvents: 1_000_000,
    memoryWarmUpEvents: 300_000,
    scalingEvents: 100_000,
    redisMemoryAlerts: 2_000,
    reportDir: 'docs',
    command: 'npm run bench',
  };
}
