import request from 'supertest';
import { appTestbed } from './support/app-testbed.js';
import { toRecord } from './support/stream-probe.js';
import type { RunningApp } from './support/test-app.js';
import { sleep, waitFor } from './support/wait-for.js';

interface AlertView {
  eventId: string;
  id: string;
  message?: string;
  severity?: string;
  status: 'pending' | 'delivered' | 'dead-lettered';
  attempts: number;
  lastError?: string;
  deliveredVia?: string;
  deliveredAt?: string;
  deadLetteredAt?: string;
}

/** Markers in the message tell the receiver how to answer, so tests do not depend on each other. */
const FLAKY = '[500 twice]';
const REJECTED = '[400]';

describe('Alert delivery to the webhook', () => {
  const bed = appTestbed({
    webhook: (body, attempt) => {
      const message = String(body.message ?? '');
      if (message.includes(FLAKY)) return attempt <= 2 ? 500 : 200;
      if (message.includes(REJECTED)) return 400;
      return 200;
    },
  });
  let app: RunningApp;

  beforeAll(async () => {
    app = await bed.start({
      CONSUMER_NAME: 'test-1',
      ALERTS_WEBHOOK_TIMEOUT_MS: '2000',
      RETRY_BACKOFF_BASE_MS: '50',
      RETRY_BACKOFF_MAX_MS: '400',
    });
  });

  async function postAlert(
    body: Record<string, unknown>,
  ): Promise<{ id: string; eventId: string }> {
    const response = await request(app.url).post('/alerts').send(body).expect(202);
    return response.body as { id: string; eventId: string };
  }

  async function alert(eventId: string): Promise<AlertView | undefined> {
    const response = await request(app.url).get(`/alerts/${encodeURIComponent(eventId)}`);
    return response.status === 200 ? (response.body as AlertView) : undefined;
  }

  function waitForStatus(eventId: string, status: AlertView['status']): Promise<AlertView> {
    return waitFor(async () => {
      const record = await alert(eventId);
      return record?.status === status ? record : undefined;
    }, `alert ${eventId} to be ${status}`);
  }

  function deliveryOf(eventId: string) {
    return waitFor(
      () => bed.receiver.deliveries.find((d) => d.headers['idempotency-key'] === eventId),
      `a webhook delivery of ${eventId}`,
    );
  }

  it('delivers an alert with its eventId as Idempotency-Key and records it delivered', async () => {
    const { id, eventId } = await postAlert({
      message: 'Server down',
      severity: 'warning',
      source: 'web-1',
      labels: { env: 'prod' },
    });

    const delivery = await deliveryOf(eventId);
    expect(delivery.headers['content-type']).toMatch(/^application\/json/);
    expect(delivery.body).toEqual({
      eventId,
      id,
      message: 'Server down',
      severity: 'warning',
      source: 'web-1',
      labels: { env: 'prod' },
      time: expect.any(String),
    });
    expect(Number.isNaN(Date.parse(delivery.body.time as string))).toBe(false);

    const record = await waitForStatus(eventId, 'delivered');
    expect(record).toMatchObject({
      eventId,
      id,
      attempts: 1,
      deliveredVia: 'webhook',
      deliveredAt: expect.any(String),
    });
    expect(bed.receiver.attempts(eventId)).toBe(1);
  });

  it('delivers an alert written with a plain XADD by another producer', async () => {
    const id = (await bed.client.xadd('alerts', '*', 'message', 'Critical alert! Server down.'))!;

    // Without an eventId field, the entry id is the eventId.
    const delivery = await deliveryOf(id);
    expect(delivery.body).toMatchObject({
      eventId: id,
      id,
      message: 'Critical alert! Server down.',
      severity: 'critical',
    });
    expect(await waitForStatus(id, 'delivered')).toMatchObject({
      message: 'Critical alert! Server down.',
      attempts: 1,
    });
  });

  it('calls the webhook once for a second entry with an eventId already delivered', async () => {
    const eventId = 'producer-retry-7';
    const first = await bed.client.xadd('alerts', '*', 'eventId', eventId, 'message', 'Sent twice');
    await waitForStatus(eventId, 'delivered');
    const second = (await bed.client.xadd(
      'alerts',
      '*',
      'eventId',
      eventId,
      'message',
      'Sent twice',
    ))!;

    // The second entry is acknowledged without a call once the group has read it.
    await waitFor(async () => {
      const pending = (await bed.client.xpending(
        'alerts',
        'alerts-webhook',
        '-',
        '+',
        10,
      )) as unknown[];
      const groups = (await bed.client.xinfo('GROUPS', 'alerts')) as unknown[][];
      const webhook = groups
        .map((flat) => toRecord(flat.map(String)))
        .find((group) => group.name === 'alerts-webhook');
      return pending.length === 0 && webhook?.['last-delivered-id'] === second;
    }, 'the webhook group to finish the second entry');
    expect(bed.receiver.attempts(eventId)).toBe(1);
    expect((await alert(eventId))?.id).toBe(first);
  });

  it('retries after 500 and records the delivery with the attempts it took', async () => {
    const { eventId } = await postAlert({ message: `Flaky receiver ${FLAKY}` });

    const record = await waitForStatus(eventId, 'delivered');
    expect(record.attempts).toBe(3);
    expect(record.lastError).toContain('500');
    expect(bed.receiver.attempts(eventId)).toBe(3);
    expect(
      bed.receiver.deliveries.filter((d) => d.headers['idempotency-key'] === eventId),
    ).toHaveLength(1);
  });

  it('dead-letters at once when the webhook answers 400', async () => {
    const { id, eventId } = await postAlert({ message: `Rejected ${REJECTED}` });

    const deadLetter = await waitFor(async () => {
      const entries = await bed.client.xrange('alerts:dlq', '-', '+');
      return entries.map(([, flat]) => toRecord(flat)).find((fields) => fields.eventId === eventId);
    }, 'the dead-letter entry');
    expect(deadLetter['dlq-error']).toContain('400');
    expect(deadLetter['dlq-group']).toBe('alerts-webhook');
    expect(deadLetter['dlq-attempts']).toBe('1');
    expect(deadLetter['dlq-original-id']).toBe(id);

    const record = await waitForStatus(eventId, 'dead-lettered');
    expect(record).toMatchObject({ attempts: 1, deadLetteredAt: expect.any(String) });
    expect(record.lastError).toContain('400');
    await sleep(300);
    expect(bed.receiver.attempts(eventId)).toBe(1);
  });

  it('dead-letters a malformed entry with the reason and records it', async () => {
    const id = (await bed.client.xadd('alerts', '*', 'severity', 'info', 'source', 'cron'))!;

    const record = await waitForStatus(id, 'dead-lettered');
    expect(record.lastError).toMatch(/message/);
    expect(record.attempts).toBe(1);
    expect(bed.receiver.attempts(id)).toBe(0);
  });

  it('lists recent alerts newest first, up to the limit', async () => {
    const eventIds: string[] = [];
    for (const n of [1, 2, 3]) {
      eventIds.push((await postAlert({ message: `recent ${n}` })).eventId);
      await sleep(5);
    }
    const response = await request(app.url).get('/alerts?limit=2').expect(200);
    const { alerts } = response.body as { alerts: AlertView[] };
    expect(alerts.map((a) => a.eventId)).toEqual([eventIds[2], eventIds[1]]);
    expect(alerts[0]).toMatchObject({ message: 'recent 3', status: expect.any(String) });
  });
});
