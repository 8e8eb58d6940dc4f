import { appTestbed } from './support/app-testbed.js';
import { freePort } from '@redis-streams-alerts/nestjs-redis-streams/testing';
import { startApp, type RunningApp } from './support/test-app.js';
import { waitFor } from './support/wait-for.js';

/** The longest a probe may take, Redis up or down: the readiness PING times out after 1 s. */
const PROBE_BOUND_MS = 2_000;

interface Probe {
  status: number;
  body: Record<string, unknown>;
  elapsedMs: number;
}

async function probe(base: string, path: string): Promise<Probe> {
  const started = Date.now();
  const response = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5_000) });
  const body = (await response.json()) as Record<string, unknown>;
  return { status: response.status, body, elapsedMs: Date.now() - started };
}

describe('health probes', () => {
  const bed = appTestbed();
  let app: RunningApp;

  beforeAll(async () => {
    app = await bed.startWithoutWaiting({ CONSUMER_NAME: 'health-e2e' });
  });

  it('reports live without asking Redis', async () => {
    const live = await probe(app.url, '/health/live');
    expect(live.status).toBe(200);
    expect(live.body).toMatchObject({ status: 'ok', details: { process: { status: 'up' } } });
    expect(live.body.details).not.toHaveProperty('redis');
  });

  it('reports ready with Redis and the consumers up', async () => {
    const ready = await waitFor(async () => {
      const result = await probe(app.url, '/health/ready');
      return result.status === 200 ? result : undefined;
    }, 'readiness 200');
    expect(ready.body).toMatchObject({
      status: 'ok',
      details: { redis: { status: 'up' }, consumers: { status: 'up' } },
    });
    expect(ready.elapsedMs).toBeLessThan(PROBE_BOUND_MS);
  });

  it('answers 503 quickly once Redis is gone, and stays live', async () => {
    await bed.redis.kill();
    const killedAt = Date.now();
    const notReady = await waitFor(
      async () => {
        const result = await probe(app.url, '/health/ready');
        expect(result.elapsedMs).toBeLessThan(PROBE_BOUND_MS);
        return result.status === 503 ? result : undefined;
      },
      'readiness 503 after Redis was killed',
      PROBE_BOUND_MS,
    );
    expect(Date.now() - killedAt).toBeLessThan(PROBE_BOUND_MS + 500);
    expect(notReady.body).toMatchObject({ status: 'error', error: { redis: { status: 'down' } } });

    const live = await probe(app.url, '/health/live');
    expect(live.status).toBe(200);
    expect(live.elapsedMs).toBeLessThan(PROBE_BOUND_MS);

    // Still bounded on repeated probes, not only on the first one after the crash.
    const again = await probe(app.url, '/health/ready');
    expect(again.status).toBe(503);
    expect(again.elapsedMs).toBeLessThan(PROBE_BOUND_MS);
  });

  it('is ready again after Redis comes back', async () => {
    // Redis is up again already if the testbed restarted it after the test that killed it.
    await bed.redis.restart();
    const ready = await waitFor(
      async () => {
        const result = await probe(app.url, '/health/ready');
        return result.status === 200 ? result : undefined;
      },
      'readiness 200 after Redis restarted',
      10_000,
      100,
    );
    expect(ready.body).toMatchObject({ details: { redis: { status: 'up' } } });
  });
});

describe('health probes when Redis is unreachable from the start', () => {
  let app: RunningApp;

  beforeAll(async () => {
    // A free port with nothing listening on it.
    app = await startApp({
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      CONSUMER_NAME: 'health-e2e-no-redis',
    });
  });

  afterAll(async () => {
    await app?.close();
  });

  it('is live but not ready, without hanging', async () => {
    const live = await probe(app.url, '/health/live');
    expect(live.status).toBe(200);
    const ready = await probe(app.url, '/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.elapsedMs).toBeLessThan(PROBE_BOUND_MS);
    expect(ready.body).toMatchObject({ error: { redis: { status: 'down' } } });
  });
});

describe('storage alarms in readiness', () => {
  const bed = appTestbed();
  let app: RunningApp;

  beforeAll(async () => {
    app = await bed.startWithoutWaiting({
      CONSUMER_NAME: 'storage-e2e',
      RETENTION_MAX_LEN: '5',
      RETENTION_INTERVAL_MS: '100',
    });
  });

  it('reports persistence and a stream held over its cap by a lagging group, while staying ready', async () => {
    const client = bed.client;
    await client.xgroup('CREATE', 'alerts', 'laggard', '0', 'MKSTREAM');
    for (let i = 0; i < 20; i++) await client.xadd('alerts', '*', 'message', `m${i}`);
    const ready = await waitFor(async () => {
      const result = await probe(app.url, '/health/ready');
      const storage = (result.body.details as Record<string, { alarms?: string[] }>)?.storage;
      return storage?.alarms?.some((a) => a.includes('held by laggard')) ? result : undefined;
    }, 'the retention alarm');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({
      details: { storage: { status: 'up', persistence: { appendFsync: 'everysec' } } },
    });
    // Nothing the laggard has not acknowledged was trimmed.
    expect(await client.xlen('alerts')).toBe(20);
  });
});

describe('paused groups in readiness', () => {
  const bed = appTestbed();
  let app: RunningApp;

  beforeAll(async () => {
    app = await bed.start({ CONSUMER_NAME: 'flow-e2e' });
  });

  const flowDetail = async (): Promise<Probe & { flow: Record<string, unknown> }> => {
    const result = await probe(app.url, '/health/ready');
    const details = result.body.details as Record<string, Record<string, unknown>>;
    return { ...result, flow: details.flow };
  };

  it('shows a paused group while staying ready, and no longer once it is resumed', async () => {
    expect((await flowDetail()).flow).toEqual({
      status: 'up',
      paused: [],
      busy: {},
      circuitOpen: {},
    });
    const group = `${app.url}/admin/streams/alerts/groups/alerts-webhook`;
    expect((await fetch(`${group}/pause`, { method: 'POST' })).status).toBe(200);
    const paused = await flowDetail();
    expect(paused.status).toBe(200);
    expect(paused.body.status).toBe('ok');
    expect(paused.flow).toEqual({
      status: 'up',
      paused: ['alerts/alerts-webhook'],
      busy: {},
      circuitOpen: {},
    });
    expect(paused.elapsedMs).toBeLessThan(PROBE_BOUND_MS);
    // Paused, its consumer loop still runs: it is waiting, not broken.
    expect(paused.body).toMatchObject({ details: { consumers: { status: 'up' } } });

    expect((await fetch(`${group}/resume`, { method: 'POST' })).status).toBe(200);
    expect((await flowDetail()).flow).toMatchObject({ status: 'up', paused: [] });
  });
});
