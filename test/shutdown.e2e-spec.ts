import { appTestbed, type ServedMain } from './support/app-testbed.js';
import { waitFor } from './support/wait-for.js';

const SHUTDOWN_TIMEOUT_MS = 3_000;
/** main.ts gives up SHUTDOWN_TIMEOUT_MS + 5 s after the signal; a clean exit must come sooner. */
const EXIT_BOUND_MS = SHUTDOWN_TIMEOUT_MS + 5_000;

async function status(url: string): Promise<number> {
  const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
  await response.arrayBuffer();
  return response.status;
}

describe('graceful shutdown of dist/main.js', () => {
  const bed = appTestbed({ webhook: true });
  let started = 0;

  const startReady = (): Promise<ServedMain> =>
    bed.startMain({
      CONSUMER_NAME: `shutdown-e2e-${started++}`,
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      // Longer than the shutdown timeout, so a hanging delivery is still in flight at the end.
      ALERTS_WEBHOOK_TIMEOUT_MS: '60000',
    });

  it('exits 0 on SIGTERM', async () => {
    const { main } = await startReady();
    main.child.kill('SIGTERM');
    const exit = await main.exit(EXIT_BOUND_MS);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(main.stdout).toContain('SIGTERM received');
    expect(main.stdout).toContain('Shutdown complete');
  });

  it('exits 0 on SIGINT even while Redis is down', async () => {
    const { main, url } = await startReady();
    await bed.redis.kill();
    await waitFor(async () => (await status(`${url}/health/ready`)) === 503, 'readiness 503');
    main.child.kill('SIGINT');
    const exit = await main.exit(EXIT_BOUND_MS);
    expect(exit).toEqual({ code: 0, signal: null });
  });

  /** Starts the service with one webhook delivery hanging in a handler. */
  async function startWithDeliveryInFlight(): Promise<ServedMain> {
    const ready = await startReady();
    let deliveriesStarted = 0;
    bed.receiver.respond = () => {
      deliveriesStarted += 1;
      return 'hang';
    };
    const accepted = await fetch(`${ready.url}/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'in flight during shutdown' }),
      signal: AbortSignal.timeout(3_000),
    });
    expect(accepted.status).toBe(202);
    await waitFor(() => deliveriesStarted > 0, 'the webhook delivery to start');
    return ready;
  }

  it('reports not ready while it drains an in-flight delivery, then exits 0', async () => {
    const { main, url } = await startWithDeliveryInFlight();
    const signalledAt = Date.now();
    main.child.kill('SIGTERM');
    // The HTTP server stays open while in-flight handlers drain; readiness must say no.
    await waitFor(
      async () => (await status(`${url}/health/ready`)) === 503,
      'readiness 503 during the drain',
      2_000,
    );
    expect(await status(`${url}/health/live`)).toBe(200);

    const exit = await main.exit(EXIT_BOUND_MS);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(EXIT_BOUND_MS);
  });

  it('exits 1 at once on a second signal during the drain', async () => {
    const { main, url } = await startWithDeliveryInFlight();
    main.child.kill('SIGTERM');
    await waitFor(
      async () => (await status(`${url}/health/ready`)) === 503,
      'readiness 503 during the drain',
      2_000,
    );
    const secondAt = Date.now();
    main.child.kill('SIGINT');
    const exit = await main.exit(EXIT_BOUND_MS);
    expect(exit).toEqual({ code: 1, signal: null });
    // Well before the drain of SHUTDOWN_TIMEOUT_MS would have ended.
    expect(Date.now() - secondAt).toBeLessThan(SHUTDOWN_TIMEOUT_MS / 2);
    expect(main.stdout).toContain('SIGINT received again');
  });
});
