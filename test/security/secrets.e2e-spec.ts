import { appTestbed, type ServedMain } from '../support/app-testbed.js';
import type { MainProcess } from '../support/main-process.js';
import { sleep, waitFor } from '../support/wait-for.js';

/** Distinctive values that must never show up in any output or HTTP answer of the service. */
const REDIS_USER = 'alerts';
const REDIS_PASSWORD = 'RedisPw-q7Zx93kLmV-secret';
const WRONG_REDIS_PASSWORD = 'WrongPw-h4Tt81nBcQ-secret';
const API_KEY = 'ApiKey-w2Pq58rJsD-secret';
const WEBHOOK_TOKEN = 'HookTok-m9Vy27eXaF-secret';

/** Every form a leak could take: whole, either half (truncated or half-masked), URL-encoded, base64. */
function leakForms(secret: string): string[] {
  const half = Math.floor(secret.length / 2);
  return [
    secret,
    secret.slice(0, half),
    secret.slice(half),
    encodeURIComponent(secret),
    Buffer.from(secret).toString('base64').slice(0, -2),
    Buffer.from(`${REDIS_USER}:${secret}`).toString('base64').slice(4, -4),
  ];
}

/** Which secrets (by name) appear in `text` in any of their forms. */
function leaksIn(text: string, secrets: Record<string, string>): string[] {
  return Object.entries(secrets)
    .filter(([, secret]) => leakForms(secret).some((form) => text.includes(form)))
    .map(([name]) => name);
}

interface Exchange {
  status: number;
  body: string;
  json?: Record<string, unknown>;
}

/** Every HTTP answer of the service, status line, headers and body, kept for the leak check. */
class HttpTranscript {
  readonly texts: string[] = [];

  async send(url: string, init: RequestInit = {}): Promise<Exchange> {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
    const body = await response.text();
    const headers = [...response.headers].map(([name, value]) => `${name}: ${value}`).join('\n');
    this.texts.push(`${init.method ?? 'GET'} ${url} -> ${response.status}\n${headers}\n\n${body}`);
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(body) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    return { status: response.status, body, json };
  }
}

describe('secrets are never logged or returned', () => {
  const bed = appTestbed({
    // In an ACL file, so that the user with the password survives the Redis restart below.
    aclUsers: [
      'user default on nopass ~* &* +@all',
      `user ${REDIS_USER} on >${REDIS_PASSWORD} ~* &* +@all`,
    ],
    webhook: true,
  });
  const http = new HttpTranscript();
  const redisUrl = (password = REDIS_PASSWORD): string => bed.redis.urlAs(REDIS_USER, password);
  const webhookUrl = (): string => `${bed.receiver.url}?token=${WEBHOOK_TOKEN}`;

  const start = (env: Record<string, string>): Promise<ServedMain> =>
    bed.spawnMain({ LOG_LEVEL: 'verbose', ...env });

  function expectNoLeaks(main: MainProcess, secrets: Record<string, string>): void {
    const found = [
      ...leaksIn(main.stdout, secrets).map((name) => `${name} in stdout`),
      ...leaksIn(main.stderr, secrets).map((name) => `${name} in stderr`),
      ...http.texts.flatMap((text) =>
        leaksIn(text, secrets).map((name) => `${name} in HTTP answer: ${text.slice(0, 300)}`),
      ),
      ...bed.receiver.deliveries.flatMap((delivery) =>
        leaksIn(JSON.stringify(delivery), secrets).map((name) => `${name} sent to the webhook`),
      ),
    ];
    expect(found).toEqual([]);
  }

  describe('a running service', () => {
    let main: MainProcess;
    let base: string;

    beforeAll(async () => {
      bed.receiver.respond = (body, attempt) =>
        body.message === 'webhook times out once' && attempt === 1 ? 'hang' : 200;
      ({ main, url: base } = await start({
        REDIS_URL: redisUrl(),
        API_KEY,
        ALERTS_WEBHOOK_URL: webhookUrl(),
        ALERTS_WEBHOOK_TIMEOUT_MS: '500',
        CONSUMER_NAME: 'secrets-1',
        RETRY_BACKOFF_BASE_MS: '100',
        RETRY_BACKOFF_MAX_MS: '200',
        CONSUMER_BLOCK_MS: '200',
        PUBLISH_TIMEOUT_MS: '1000',
        SHUTDOWN_TIMEOUT_MS: '1000',
      }));
      await waitFor(
        async () => main.running && (await http.send(`${base}/health/ready`)).status === 200,
        `the service to be ready\n${main.output()}`,
        15_000,
        100,
      );
    }, 20_000);

    const post = (headers: Record<string, string>, body: unknown = { message: 'Disk full' }) =>
      http.send(`${base}/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });

    it('accepts the right API key, as x-api-key or as a Bearer token', async () => {
      expect((await post({ 'x-api-key': API_KEY })).status).toBe(202);
      expect((await post({ authorization: `Bearer ${API_KEY}` })).status).toBe(202);
      expect((await post({ authorization: `bearer ${API_KEY}` })).status).toBe(202);
    });

    it.each([
      ['no key at all', {}],
      ['an empty x-api-key', { 'x-api-key': '' }],
      ['a wrong key of the same length', { 'x-api-key': API_KEY.replace(/.$/, '#') }],
      ['the key without its last character', { 'x-api-key': API_KEY.slice(0, -1) }],
      ['the key with one more character', { 'x-api-key': `${API_KEY}x` }],
      ['the key in upper case', { 'x-api-key': API_KEY.toUpperCase() }],
      ['the key twice', { 'x-api-key': `${API_KEY}, ${API_KEY}` }],
      ['a wrong Bearer token', { authorization: `Bearer ${API_KEY.slice(1)}` }],
      ['a Bearer scheme without a token', { authorization: 'Bearer ' }],
      ['the key as Basic credentials', { authorization: `Basic ${btoa(`x:${API_KEY}`)}` }],
      ['the key as a bare Authorization header', { authorization: API_KEY }],
    ])('answers 401 to POST /alerts with %s', async (_, headers: Record<string, string>) => {
      const answer = await post(headers);
      expect(answer.status).toBe(401);
      expect(answer.json).toMatchObject({ statusCode: 401 });
    });

    it('asks for the key on reading alerts too', async () => {
      expect((await http.send(`${base}/alerts`)).status).toBe(401);
      expect((await http.send(`${base}/alerts/some-event`)).status).toBe(401);
      const headers = { 'x-api-key': API_KEY };
      expect((await http.send(`${base}/alerts`, { headers })).status).toBe(200);
      expect((await http.send(`${base}/alerts/some-event`, { headers })).status).toBe(404);
    });

    it('answers invalid requests with 4xx', async () => {
      const key = { 'x-api-key': API_KEY };
      expect((await post(key, { severity: 'info' })).status).toBe(400);
      expect((await post(key, { message: 'm', priority: 'high' })).status).toBe(400);
      expect((await post(key, '{"message": ')).status).toBe(400);
      expect((await post(key, { message: 'x'.repeat(70_000) })).status).toBe(413);
      expect((await post({ ...key, 'idempotency-key': 'has spaces' })).status).toBe(400);
      const text = await http.send(`${base}/alerts`, {
        method: 'POST',
        headers: { ...key, 'content-type': 'text/plain' },
        body: 'message=hello',
      });
      expect(text.status).toBeGreaterThanOrEqual(400);
      expect(text.status).toBeLessThan(500);
      expect((await http.send(`${base}/nowhere`)).status).toBe(404);
    });

    it('retries a webhook timeout and records why, without the webhook token', async () => {
      const accepted = await post({ 'x-api-key': API_KEY }, { message: 'webhook times out once' });
      expect(accepted.status).toBe(202);
      const eventId = String(accepted.json?.eventId);
      const record = await waitFor(
        async () => {
          const answer = await http.send(`${base}/alerts/${eventId}`, {
            headers: { 'x-api-key': API_KEY },
          });
          return answer.json?.status === 'delivered' ? answer.json : undefined;
        },
        'the alert to be delivered after the timeout',
        10_000,
        100,
      );
      expect(record.attempts).toBe(2);
      // The reason of the failed attempt is kept on the record and returned by the API.
      expect(String(record.lastError)).toMatch(/did not answer|no answer/);
    });

    it('logs the connection errors while Redis is down, and answers 503', async () => {
      await bed.redis.kill();
      await waitFor(
        () => /ECONNREFUSED|Connection is closed|connection/i.test(main.stdout + main.stderr),
        'a logged Redis connection error',
        5_000,
      );
      await waitFor(
        async () => (await http.send(`${base}/health/ready`)).status === 503,
        'readiness 503 while Redis is down',
        5_000,
      );
      expect((await post({ 'x-api-key': API_KEY })).status).toBe(503);
      const read = await http.send(`${base}/alerts`, { headers: { 'x-api-key': API_KEY } });
      expect(read.status).toBe(503);
      // Long enough for the consumers' read loops and the reconnects to log their failures.
      await sleep(1_500);

      await bed.redis.restart();
      await waitFor(
        async () => (await http.send(`${base}/health/ready`)).status === 200,
        'readiness 200 after Redis restarted',
        15_000,
        100,
      );
      expect((await post({ 'x-api-key': API_KEY })).status).toBe(202);
      expect(main.stdout + main.stderr).toMatch(/ECONNREFUSED/);
    }, 30_000);

    it('shuts down on SIGTERM', async () => {
      main.child.kill('SIGTERM');
      expect(await main.exit(10_000)).toEqual({ code: 0, signal: null });
    });

    it('never printed or returned the Redis password, the API key or the webhook token', () => {
      expect(main.stdout.length).toBeGreaterThan(0);
      expectNoLeaks(main, {
        REDIS_PASSWORD,
        API_KEY,
        WEBHOOK_TOKEN,
      });
    });
  });

  it('never prints a Redis password that Redis refuses', async () => {
    const { main, url: base } = await start({
      REDIS_URL: redisUrl(WRONG_REDIS_PASSWORD),
      API_KEY,
      CONSUMER_NAME: 'secrets-wrong-password',
      PUBLISH_TIMEOUT_MS: '500',
    });
    await waitFor(
      () => /WRONGPASS/.test(main.stdout + main.stderr),
      'the refused login in the log',
    );
    // It starts listening once its bounded wait for a first Redis connection is over.
    await waitFor(
      async () => (await http.send(`${base}/health/ready`)).status === 503,
      'readiness 503 while Redis refuses the login',
      15_000,
      100,
    );
    const posted = await http.send(`${base}/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify({ message: 'not accepted' }),
    });
    expect(posted.status).toBe(503);
    await main.kill();
    expectNoLeaks(main, { WRONG_REDIS_PASSWORD, API_KEY });
  }, 20_000);

  it.each([
    ['an invalid PORT', (): Record<string, string> => ({ PORT: 'abc' })],
    [
      'an invalid LOG_LEVEL and retry setting',
      () => ({ LOG_LEVEL: 'chatty', RETRY_MAX_ATTEMPTS: '0' }),
    ],
    [
      'a REDIS_URL without a host',
      () => ({ REDIS_URL: `redis://${REDIS_USER}:${REDIS_PASSWORD}@/0` }),
    ],
    [
      'a REDIS_URL with the wrong scheme',
      () => ({ REDIS_URL: `http://${REDIS_USER}:${REDIS_PASSWORD}@127.0.0.1:6380` }),
    ],
    ['a CA file with a plain redis:// URL', () => ({ REDIS_TLS_CA_FILE: '/etc/hostname' })],
    [
      'an ALERTS_WEBHOOK_URL with the wrong scheme',
      () => ({ ALERTS_WEBHOOK_URL: `ftp://127.0.0.1/hook?token=${WEBHOOK_TOKEN}` }),
    ],
  ])('exits 1 on %s without printing a secret', async (_, invalid) => {
    const { main } = await start({
      PORT: '0',
      REDIS_URL: redisUrl(),
      API_KEY,
      ALERTS_WEBHOOK_URL: webhookUrl(),
      ...invalid(),
    });
    expect(await main.exit(5_000)).toEqual({ code: 1, signal: null });
    expect(main.stderr).toContain('environment variable(s) have a problem');
    expectNoLeaks(main, { REDIS_PASSWORD, API_KEY, WEBHOOK_TOKEN });
  });

  it('exits 1 when it cannot listen, without printing a secret', async () => {
    // The webhook receiver already holds this port.
    const taken = new URL(bed.receiver.url).port;
    const { main } = await start({
      PORT: taken,
      REDIS_URL: redisUrl(),
      API_KEY,
      ALERTS_WEBHOOK_URL: webhookUrl(),
      SHUTDOWN_TIMEOUT_MS: '1000',
    });
    const exit = await main.exit(10_000);
    expect(exit.code).not.toBe(0);
    expect(main.stdout + main.stderr).toMatch(/EADDRINUSE/);
    expectNoLeaks(main, { REDIS_PASSWORD, API_KEY, WEBHOOK_TOKEN });
  }, 15_000);
});
