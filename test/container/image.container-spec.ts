import { fileURLToPath } from 'node:url';
import { freePort, TestRedis } from '@redis-streams-alerts/nestjs-redis-streams/testing';
import { waitFor } from '../support/wait-for.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';
import { podman, podmanOk, tail } from './podman.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const IMAGE = 'redis-streams-alerts:test';
/** Marks the containers of this test, so that one left by an interrupted run is removed next time. */
const LABEL = 'redis-streams-alerts.test=container';
const CONTAINER = `redis-streams-alerts-test-${process.pid}`;

/** A first build installs every dependency twice (build and runtime stages); later ones hit the cache. */
const BUILD_TIMEOUT_MS = 300_000;
const READY_TIMEOUT_MS = 30_000;
const DELIVERY_TIMEOUT_MS = 15_000;
const COMMAND_TIMEOUT_MS = 20_000;
const SHUTDOWN_TIMEOUT_MS = 5_000;
/** As an orchestrator would: SIGTERM, then SIGKILL only after the service's own shutdown deadline. */
const STOP_TIMEOUT_S = SHUTDOWN_TIMEOUT_MS / 1_000 + 5;
/** A clean exit must come within SHUTDOWN_TIMEOUT_MS plus this (podman's own work included). */
const EXIT_MARGIN_MS = 3_000;

/** Status of a GET, or 0 when nothing answered within the timeout. */
async function status(url: string): Promise<number> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

async function containerRunning(): Promise<boolean> {
  const result = await podman(
    ['inspect', '--format', '{{.State.Running}}', CONTAINER],
    COMMAND_TIMEOUT_MS,
  );
  return result.stdout.trim() === 'true';
}

async function containerLogs(): Promise<string> {
  const result = await podman(['logs', CONTAINER], COMMAND_TIMEOUT_MS);
  // eslint-disable-next-line no-control-regex
  return `${result.stdout}${result.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
}

async function removeLeftovers(): Promise<void> {
  const listed = await podman(
    ['ps', '--all', '--quiet', '--filter', `label=${LABEL}`],
    COMMAND_TIMEOUT_MS,
  );
  const ids = listed.stdout.split('\n').filter(Boolean);
  if (ids.length > 0) await podman(['rm', '--force', ...ids], COMMAND_TIMEOUT_MS);
}

describe(`the container image (${IMAGE}, podman)`, () => {
  const report: string[] = [];
  let redis: TestRedis | undefined;
  let receiver: WebhookReceiver | undefined;
  let port = 0;
  let started = false;
  let base = '';

  beforeAll(async () => {
    const version = await podman(['--version'], COMMAND_TIMEOUT_MS);
    if (version.code !== 0) {
      throw new Error(
        `podman is not usable (${version.stderr.trim()}): run ../shared/container/local-node-image.sh first (npm run test:container does)`,
      );
    }
    report.push(version.stdout.trim());
    await removeLeftovers();

    // --format docker: podman's default OCI format drops HEALTHCHECK (with only a warning).
    const build = await podman(
      ['build', '--format', 'docker', '--network', 'host', '-t', IMAGE, ROOT],
      BUILD_TIMEOUT_MS,
    );
    if (build.code !== 0) {
      throw new Error(
        `podman build ${build.timedOut ? `did not finish within ${BUILD_TIMEOUT_MS} ms` : `exited ${build.code}`}` +
          ` (without a registry, the base image comes from ../shared/container/local-node-image.sh)\n` +
          `${tail(build.stdout)}\n${tail(build.stderr)}`,
      );
    }
    report.push(`build: ${(build.ms / 1_000).toFixed(1)} s`);
    const size = await podmanOk(
      ['image', 'inspect', '--format', '{{.Size}}', IMAGE],
      COMMAND_TIMEOUT_MS,
    );
    report.push(`image size: ${(Number(size.stdout.trim()) / 1e6).toFixed(1)} MB`);

    redis = await TestRedis.start({ appendOnly: true, args: ['--appendfsync', 'always'] });
    receiver = await WebhookReceiver.start();
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env = {
      PORT: String(port),
      REDIS_URL: redis.url,
      ALERTS_WEBHOOK_URL: receiver.url,
      CONSUMER_NAME: 'container-test',
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    };
    // Before the run: a container that was created but failed to start is removed too.
    started = true;
    await podmanOk(
      [
        'run',
        '--detach',
        '--name',
        CONTAINER,
        '--label',
        LABEL,
        '--network',
        'host',
        ...Object.entries(env).flatMap(([name, value]) => ['--env', `${name}=${value}`]),
        IMAGE,
      ],
      COMMAND_TIMEOUT_MS,
    );
  }, BUILD_TIMEOUT_MS + 60_000);

  afterAll(async () => {
    if (started) {
      const removed = await podman(['rm', '--force', CONTAINER], COMMAND_TIMEOUT_MS);
      report.push(
        removed.code === 0
          ? `container ${CONTAINER} removed; image ${IMAGE} kept (layer cache for the next run)`
          : `could not remove container ${CONTAINER}: ${removed.stderr.trim()}`,
      );
    }
    await receiver?.close();
    await redis?.close();
    process.stdout.write(`\ncontainer test report:\n${report.map((l) => `  ${l}\n`).join('')}\n`);
  }, 60_000);

  it(
    'answers 200 on /health/ready once it reaches Redis',
    async () => {
      const startedAt = Date.now();
      let outcome: 'ready' | 'exited';
      try {
        // A container that exited ends the wait at once (waitFor retries a probe that throws).
        outcome = await waitFor(
          async () => {
            if (!(await containerRunning())) return 'exited' as const;
            return (await status(`${base}/health/ready`)) === 200 ? ('ready' as const) : undefined;
          },
          '/health/ready to answer 200',
          READY_TIMEOUT_MS,
          200,
        );
      } catch (error) {
        throw new Error(
          `${String(error)}\n--- container logs ---\n${tail(await containerLogs())}`,
          {
            cause: error,
          },
        );
      }
      if (outcome === 'exited') {
        throw new Error(
          `the container exited\n--- container logs ---\n${tail(await containerLogs())}`,
        );
      }
      report.push(`ready: ${((Date.now() - startedAt) / 1_000).toFixed(1)} s after podman run`);
      expect(await status(`${base}/health/live`)).toBe(200);
    },
    READY_TIMEOUT_MS + 10_000,
  );

  it(
    'delivers a POSTed alert to the webhook',
    async () => {
      const startedAt = Date.now();
      const response = await fetch(`${base}/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'Container smoke test', severity: 'warning' }),
        signal: AbortSignal.timeout(5_000),
      });
      expect(response.status).toBe(202);
      const { eventId } = (await response.json()) as { id: string; eventId: string };

      const delivery = await waitFor(
        () => receiver!.deliveries.find((d) => d.headers['idempotency-key'] === eventId),
        `a webhook delivery of ${eventId}`,
        DELIVERY_TIMEOUT_MS,
        50,
      );
      expect(delivery.body).toMatchObject({
        eventId,
        message: 'Container smoke test',
        severity: 'warning',
      });
      report.push(`POST /alerts to webhook delivery: ${Date.now() - startedAt} ms`);
    },
    DELIVERY_TIMEOUT_MS + 10_000,
  );

  it(
    'runs node as PID 1 under a non-root user',
    async () => {
      const id = await podmanOk(['exec', CONTAINER, 'id', '-u'], COMMAND_TIMEOUT_MS);
      expect(id.stdout.trim()).not.toBe('0');

      // The service process itself: node, straight from the exec-form CMD, with no shell or npm above it.
      const top = await podmanOk(['top', CONTAINER, 'user', 'pid', 'args'], COMMAND_TIMEOUT_MS);
      const rows = top.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.trim().split(/\s+/));
      const main = rows.find((row) => row.slice(2).join(' ') === 'node dist/main.js');
      expect(main).toBeDefined();
      expect(main![0]).not.toBe('root');
      expect(main![1]).toBe('1');
      report.push(`user: uid ${id.stdout.trim()} (${main![0]}), node is PID 1`);
    },
    2 * COMMAND_TIMEOUT_MS,
  );

  it(
    'has a HEALTHCHECK on /health/live that passes without curl',
    async () => {
      const inspected = await podmanOk(
        ['image', 'inspect', '--format', '{{json .Config.Healthcheck}}', IMAGE],
        COMMAND_TIMEOUT_MS,
      );
      const healthcheck = JSON.parse(inspected.stdout) as { Test?: string[] } | null;
      const test = healthcheck?.Test ?? [];
      expect(test[0]).toBe('CMD');
      expect(test[1]).toBe('node');
      expect(test.join(' ')).toContain('/health/live');

      // podman healthcheck run: 0 passed, 1 the check failed, anything else (125) podman could not
      // run it here; then the same command goes through podman exec.
      const run = await podman(['healthcheck', 'run', CONTAINER], COMMAND_TIMEOUT_MS);
      if (run.code === 1) throw new Error(`the HEALTHCHECK failed: ${run.stdout}${run.stderr}`);
      if (run.code === 0) {
        report.push('HEALTHCHECK: podman healthcheck run exited 0');
        return;
      }
      const exec = await podman(['exec', CONTAINER, ...test.slice(1)], COMMAND_TIMEOUT_MS);
      expect(exec.code).toBe(0);
      report.push(
        `HEALTHCHECK: podman healthcheck run exited ${run.code}; its command via exec, 0`,
      );
    },
    3 * COMMAND_TIMEOUT_MS,
  );

  it(
    'exits 0 on SIGTERM (podman stop) within SHUTDOWN_TIMEOUT_MS',
    async () => {
      const stop = await podmanOk(
        ['stop', '--time', String(STOP_TIMEOUT_S), CONTAINER],
        (STOP_TIMEOUT_S + 15) * 1_000,
      );
      const state = await podmanOk(
        ['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', CONTAINER],
        COMMAND_TIMEOUT_MS,
      );
      const logs = await containerLogs();
      report.push(`podman stop: ${stop.ms} ms, then ${state.stdout.trim()}`);

      expect(state.stdout.trim()).toBe('exited 0');
      expect(stop.ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS + EXIT_MARGIN_MS);
      expect(logs).toContain('SIGTERM received');
      expect(logs).toContain('Shutdown complete');
    },
    (STOP_TIMEOUT_S + 15) * 1_000 + 2 * COMMAND_TIMEOUT_MS,
  );
});
