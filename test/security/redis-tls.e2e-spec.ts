import type { Redis } from 'ioredis';
import { appTestbed } from '../support/app-testbed.js';
import { LogCapture } from '../support/log-capture.js';
import type { RunningApp } from '../support/test-app.js';
import { generateTlsCertificates, type TlsCertificates } from '../support/tls-certs.js';
import { sleep, waitFor } from '../support/wait-for.js';

const PUBLISH_TIMEOUT_MS = 1_000;
/** Readiness PINGs with a 1 s timeout; a refused TLS handshake must not make it slower. */
const PROBE_BOUND_MS = 2_000;
const PUBLISH_BOUND_MS = PUBLISH_TIMEOUT_MS + 1_500;
/**
 * The start-up persistence check waits up to 5 s for Redis on a timer that closing the app does not
 * cancel; an app that never reached Redis is kept this long so no timer outlives the test.
 */
const DURABILITY_CHECK_WAIT_MS = 5_500;

interface Answer {
  status: number;
  body: Record<string, unknown>;
  elapsedMs: number;
}

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const started = Date.now();
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: response.status, body, elapsedMs: Date.now() - started };
}

const postAlert = (base: string, message: string): Promise<Answer> =>
  call(`${base}/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message, source: 'tls-e2e' }),
  });

describe('Redis over TLS', () => {
  const bed = appTestbed({ tls: true, appendOnly: false, webhook: true });
  let admin: Redis;
  /** A CA of its own that did not sign the server certificate. */
  let otherCa: TlsCertificates;

  beforeAll(() => {
    admin = bed.client;
    otherCa = generateTlsCertificates();
  });

  afterAll(() => otherCa?.remove());

  const start = (env: Record<string, string>): Promise<RunningApp> =>
    bed.startWithoutWaiting({
      PUBLISH_TIMEOUT_MS: String(PUBLISH_TIMEOUT_MS),
      CONSUMER_BLOCK_MS: '200',
      SHUTDOWN_TIMEOUT_MS: '1000',
      ...env,
    });

  it('really serves only TLS on its port (a plain client gets no answer)', async () => {
    const plain = bed.connect({
      tls: undefined,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 1_000,
      commandTimeout: 1_000,
      enableOfflineQueue: false,
    });
    plain.on('error', () => undefined);
    await expect(plain.connect().then(() => plain.ping())).rejects.toThrow();
    expect(await admin.ping()).toBe('PONG');
  });

  it('accepts, delivers and is ready with rediss:// and REDIS_TLS_CA_FILE', async () => {
    const app = await start({ REDIS_TLS_CA_FILE: bed.redis.tls!.caFile, CONSUMER_NAME: 'tls-ok' });
    await waitFor(
      async () => (await call(`${app.url}/health/ready`)).status === 200,
      'readiness 200 over TLS',
    );

    const accepted = await postAlert(app.url, 'Sent over TLS');
    expect(accepted.status).toBe(202);
    const { id, eventId } = accepted.body as { id: string; eventId: string };

    const [entry] = await admin.xrange('alerts', id, id);
    expect(entry?.[1]).toContain(eventId);
    const delivery = await waitFor(
      () => bed.receiver.deliveries.find((d) => d.body.eventId === eventId),
      'the webhook delivery of the alert sent over TLS',
    );
    expect(delivery.body).toMatchObject({ id, message: 'Sent over TLS', source: 'tls-e2e' });

    const record = await waitFor(async () => {
      const answer = await call(`${app.url}/alerts/${eventId}`);
      return answer.body.status === 'delivered' ? answer : undefined;
    }, 'the alert record to say delivered');
    expect(record.status).toBe(200);
    expect((await call(`${app.url}/health/ready`)).status).toBe(200);
  });

  it.each([
    ['without REDIS_TLS_CA_FILE', (): Record<string, string> => ({})],
    [
      'with a CA that did not sign the server certificate',
      (): Record<string, string> => ({ REDIS_TLS_CA_FILE: otherCa.caFile }),
    ],
  ])(
    '%s: is not ready and answers POST /alerts with 503, quickly, and says why in the log',
    async (_, extraEnv) => {
      const logs = LogCapture.start();
      let app: RunningApp | undefined;
      try {
        const lengthBefore = await admin.xlen('alerts');
        const startedAt = Date.now();
        app = await start({ ...extraEnv(), CONSUMER_NAME: 'tls-untrusted', LOG_LEVEL: 'warn' });

        // Several probes over a few seconds: it must stay down, never turn ready by itself.
        for (let probe = 0; probe < 3; probe++) {
          const ready = await call(`${app.url}/health/ready`);
          expect(ready.status).toBe(503);
          expect(ready.elapsedMs).toBeLessThan(PROBE_BOUND_MS);
          expect(ready.body).toMatchObject({ error: { redis: { status: 'down' } } });

          const posted = await postAlert(app.url, `Must not be accepted ${probe}`);
          expect(posted.status).toBe(503);
          expect(posted.elapsedMs).toBeLessThan(PUBLISH_BOUND_MS);
        }

        expect((await call(`${app.url}/health/live`)).status).toBe(200);
        expect(await admin.xlen('alerts')).toBe(lengthBefore);
        // The TLS failure only shows on the client's 'error' event; an operator must see it.
        await waitFor(
          () => /certificate/i.test(logs.text()),
          'a log line naming the certificate problem',
          5_000,
        );
        await sleep(DURABILITY_CHECK_WAIT_MS - (Date.now() - startedAt));
      } finally {
        if (app) await bed.close(app);
        logs.stop();
      }
    },
  );
});
