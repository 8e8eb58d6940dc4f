import { appTestbed, type ServedMain } from './support/app-testbed.js';
import { waitFor } from './support/wait-for.js';

interface Readiness {
  status: string;
  details: Record<string, { status: string; consumers?: Array<{ group: string }> }>;
}

async function call(base: string, path: string, method = 'GET', body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/**
 * A split deployment, as docker-compose.yml and the Kubernetes example run it: built service
 * processes (`node dist/main.js`) on one Redis, one in the api role and one in the worker role.
 */
describe('PROCESS_ROLE: api and worker processes', () => {
  const bed = appTestbed({ webhook: true });
  let api: ServedMain;
  let worker: ServedMain;

  beforeAll(async () => {
    // One after the other: each takes a free port when it starts.
    api = await bed.startMain({ PROCESS_ROLE: 'api', CONSUMER_NAME: 'api-1', LOG_LEVEL: 'warn' });
    worker = await bed.startMain({
      PROCESS_ROLE: 'worker',
      CONSUMER_NAME: 'worker-1',
      CONSUMER_BLOCK_MS: '200',
      LOG_LEVEL: 'warn',
    });
  });

  it('delivers, from the worker, the alerts posted to the api process', async () => {
    const accepted: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { status, body } = await call(api.url, '/alerts', 'POST', {
        message: `split ${i}`,
        source: 'db-1',
      });
      expect(status).toBe(202);
      accepted.push((body as { eventId: string }).eventId);
    }
    await waitFor(
      () =>
        accepted.every((eventId) =>
          bed.receiver.deliveries.some((delivery) => delivery.body.eventId === eventId),
        ),
      'the worker to deliver every alert',
    );
    // The worker's webhook handler recorded each delivery: the api process shows it.
    for (const eventId of accepted) {
      const record = await waitFor(async () => {
        const { body } = await call(api.url, `/alerts/${eventId}`);
        return (body as { status?: string }).status === 'delivered' ? body : undefined;
      }, `alert ${eventId} to show as delivered`);
      expect(record).toMatchObject({ eventId, status: 'delivered', deliveredVia: 'webhook' });
    }
  });

  it('runs no consumers in the api process: every group member is the worker', async () => {
    for (const group of ['alerts-webhook', 'alerts-recorder']) {
      const consumers = (await bed.client.xinfo('CONSUMERS', 'alerts', group)) as unknown[][];
      const names = consumers.map((consumer) => consumer[consumer.indexOf('name') + 1]);
      expect(names).toEqual(['worker-1']);
    }
    const { status, body } = await call(api.url, '/health/ready');
    expect(status).toBe(200);
    const ready = body as Readiness;
    expect(Object.keys(ready.details).sort()).toEqual(['consumers', 'redis', 'storage']);
    expect(ready.details.consumers.consumers).toEqual([]);
  });

  it('answers 404 on the worker for the alert and admin routes, and serves health and metrics', async () => {
    for (const [method, path] of [
      ['POST', '/alerts'],
      ['GET', '/alerts'],
      ['GET', '/admin/streams'],
      ['GET', '/dashboard'],
      ['GET', '/docs-json'],
    ]) {
      const { status } = await call(worker.url, path, method, method === 'POST' ? {} : undefined);
      expect({ method, path, status }).toEqual({ method, path, status: 404 });
    }
    const ready = await call(worker.url, '/health/ready');
    expect(ready.status).toBe(200);
    const groups = (ready.body as Readiness).details.consumers.consumers?.map((c) => c.group);
    expect(groups).toEqual(
      expect.arrayContaining(['alerts-webhook', 'alerts-recorder', 'alerts-recorder-dlq']),
    );
    expect((ready.body as Readiness).details).toHaveProperty('flow');
    expect((await call(worker.url, '/health/live')).status).toBe(200);
    const metrics = await fetch(`${worker.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('redis_streams');
  });

  it('serves the admin API and the metrics from the api process', async () => {
    expect((await call(api.url, '/admin/streams')).status).toBe(200);
    expect((await fetch(`${api.url}/metrics`)).status).toBe(200);
  });
});
