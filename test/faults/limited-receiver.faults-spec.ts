import { spawn } from 'node:child_process';
import { LimitedReceiver } from '../support/limited-receiver.js';
import { sleep } from '../support/wait-for.js';
import { WebhookCallLog } from '../support/webhook-call-log.js';

/** A webhook call as the service makes it: the status, or the network error's code. */
async function call(
  url: string,
  key: string,
  message = `alert ${key}`,
): Promise<{ status: number | string; retryAfter: string | null }> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ eventId: key, id: `1-${key}`, message }),
      signal: AbortSignal.timeout(5_000),
    });
    await response.arrayBuffer();
    return { status: response.status, retryAfter: response.headers.get('retry-after') };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return { status: cause?.code ?? String(error), retryAfter: null };
  }
}

/** The test receiver itself: each mode answers as the flow-control acceptance specs expect. */
describe('LimitedReceiver', () => {
  let receiver: LimitedReceiver;

  beforeEach(async () => {
    receiver = await LimitedReceiver.start();
  });

  afterEach(async () => {
    await receiver.close();
  });

  it('answers 202 when healthy and records the call with its key, entry id and message', async () => {
    expect(await call(receiver.url, 'k1', 'disk full')).toEqual({ status: 202, retryAfter: null });
    const [recorded] = await receiver.calls();
    expect(recorded).toEqual({
      at: expect.any(Number),
      key: 'k1',
      entryId: '1-k1',
      message: 'disk full',
      status: 202,
      mode: 'healthy',
    });
    expect([...(await receiver.delivered()).keys()]).toEqual(['k1']);
  });

  it('takes a burst, then perSecond calls a second, and refuses the rest with 429 and Retry-After', async () => {
    await receiver.set({ mode: 'rate-limited', perSecond: 5, retryAfterSeconds: 1 });
    const first = [];
    for (let i = 0; i < 10; i++) first.push(await call(receiver.url, `a${i}`));
    expect(first.slice(0, 5).map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);
    expect(first.slice(5)).toEqual(Array(5).fill({ status: 429, retryAfter: '1' }));
    await sleep(1_000);
    const second = [];
    for (let i = 0; i < 8; i++) second.push((await call(receiver.url, `b${i}`)).status);
    const accepted = second.filter((status) => status === 202).length;
    // A second refills five tokens (six if the first call came a little late).
    expect(accepted).toBeGreaterThanOrEqual(5);
    expect(accepted).toBeLessThanOrEqual(6);
    expect(await receiver.refused()).toBe(5 + 8 - accepted);
  });

  it('refuses connections while down, and serves the same URL again afterwards', async () => {
    expect((await call(receiver.url, 'before')).status).toBe(202);
    await receiver.set({ mode: 'down' });
    expect((await call(receiver.url, 'while-down')).status).toBe('ECONNREFUSED');
    await receiver.set({ mode: 'healthy' });
    expect((await call(receiver.url, 'after')).status).toBe(202);
    expect((await receiver.calls()).map((c) => c.key)).toEqual(['before', 'after']);
  });

  it('answers 500 to everything when failing, and only to the poison alerts in poison mode', async () => {
    await receiver.set({ mode: 'failing' });
    expect((await call(receiver.url, 'x')).status).toBe(500);
    await receiver.set({ mode: 'poison', eventIds: ['bad'], messageIncludes: 'POISON' });
    expect((await call(receiver.url, 'bad')).status).toBe(500);
    expect((await call(receiver.url, 'text', 'a POISON alert')).status).toBe(500);
    expect((await call(receiver.url, 'good')).status).toBe(202);
    expect((await receiver.calls()).map((c) => `${c.key}:${c.status}:${c.mode}`)).toEqual([
      'x:500:failing',
      'bad:500:poison',
      'text:500:poison',
      'good:202:poison',
    ]);
  });

  it('delays its answers by latencyMs', async () => {
    await receiver.set({ mode: 'healthy', latencyMs: 300 });
    const started = Date.now();
    expect((await call(receiver.url, 'slow')).status).toBe(202);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  it("logs a process's webhook calls through the preload, also those refused while down", async () => {
    const log = new WebhookCallLog(receiver.origin);
    try {
      // Five fetches from another process: two reach the receiver, three find it down. The PUT
      // goes to another origin (the control port) and is not logged.
      const script = `
        const post = () => fetch(process.argv[1], { method: 'POST', body: '{}' }).then(
          (r) => r.arrayBuffer(), () => undefined);
        await post(); await post();
        await fetch(process.argv[2], { method: 'PUT', body: '{"mode":"down"}' }).then((r) => r.text());
        await post(); await post(); await post();`;
      const control = `http://127.0.0.1:${receiver.controlPort}/mode`;
      const child = spawn(
        process.execPath,
        ['--input-type=module', '-e', script, receiver.url, control],
        {
          env: { PATH: process.env.PATH ?? '', CONSUMER_NAME: 'c1', ...log.env },
          stdio: 'ignore',
        },
      );
      const code = await new Promise((resolve) => child.once('exit', resolve));
      expect(code).toBe(0);
      expect(log.calls().map((c) => c.consumer)).toEqual(['c1', 'c1', 'c1', 'c1', 'c1']);
      expect(await receiver.calls()).toHaveLength(2);
    } finally {
      log.close();
    }
  });
});
