import { partitionOf } from '@redis-streams-alerts/nestjs-redis-streams';
import request from 'supertest';
import { relayedEventId } from '../src/alerts/alertmanager/relayed-event-id.js';
import {
  alertmanagerAlert,
  alertmanagerNotification,
  grafanaNotification,
} from './support/alertmanager-notifications.js';
import { appTestbed } from './support/app-testbed.js';
import { toRecord } from './support/stream-probe.js';
import type { RunningApp } from './support/test-app.js';
import { waitFor } from './support/wait-for.js';

const API_KEY = 'e2e-api-key-0123456789';
const HTTP_BODY_LIMIT_BYTES = 16_384;
const ALERTMANAGER_BODY_LIMIT_BYTES = 262_144;
const ALERTMANAGER_MAX_ALERTS = 50;

interface Answer {
  accepted: number;
  unchanged: number;
  alerts: Array<{ eventId: string; id?: string; outcome: string }>;
}

interface Entry {
  stream: string;
  id: string;
  eventId: string;
  payload: Record<string, unknown>;
}

describe('POST /alerts/alertmanager', () => {
  const bed = appTestbed({ webhook: true });
  let app: RunningApp;

  beforeAll(async () => {
    app = await bed.start({
      CONSUMER_NAME: 'am-1',
      API_KEY,
      HTTP_BODY_LIMIT_BYTES: String(HTTP_BODY_LIMIT_BYTES),
      ALERTMANAGER_BODY_LIMIT_BYTES: String(ALERTMANAGER_BODY_LIMIT_BYTES),
      ALERTMANAGER_MAX_ALERTS: String(ALERTMANAGER_MAX_ALERTS),
      PUBLISH_TIMEOUT_MS: '1000',
    });
  });

  // As Alertmanager sends it with http_config.authorization (type Bearer).
  const notify = (body: unknown) =>
    request(app.url)
      .post('/alerts/alertmanager')
      .set('authorization', `Bearer ${API_KEY}`)
      .send(body as object);
  const get = (path: string) => request(app.url).get(path).set('x-api-key', API_KEY);

  async function entries(stream = 'alerts'): Promise<Entry[]> {
    return (await bed.client.xrange(stream, '-', '+')).map(([id, flat]) => {
      const fields = toRecord(flat);
      const payload = JSON.parse(fields.payload) as Record<string, unknown>;
      return { stream, id, eventId: fields.eventId, payload };
    });
  }

  const countOf = (all: Entry[], eventId: string) =>
    all.filter((entry) => entry.eventId === eventId).length;

  it('accepts each alert of a notification as one event, once Redis has them all', async () => {
    const body = alertmanagerNotification([
      alertmanagerAlert({
        alertname: 'DiskFull',
        instance: 'db-1:9100',
        severity: 'warning',
        summary: 'Disk almost full on db-1',
        description: 'Only 3% left on /var',
      }),
      alertmanagerAlert({ alertname: 'DiskFull', instance: 'db-2:9100', severity: 'warning' }),
    ]);
    const answer = (await notify(body).expect(202)).body as Answer;
    expect(answer).toMatchObject({ accepted: 2, unchanged: 0 });
    expect(answer.alerts.map((alert) => alert.outcome)).toEqual(['accepted', 'accepted']);

    const [first, second] = answer.alerts;
    const all = await entries();
    expect(countOf(all, first.eventId)).toBe(1);
    expect(countOf(all, second.eventId)).toBe(1);
    const entry = all.find((each) => each.eventId === first.eventId)!;
    expect(entry.id).toBe(first.id);
    expect(entry.payload).toEqual({
      message: 'Disk almost full on db-1',
      severity: 'warning',
      source: 'db-1:9100',
      labels: { alertname: 'DiskFull', job: 'node', instance: 'db-1:9100', severity: 'warning' },
      alertStatus: 'firing',
      // Normalized: UTC, milliseconds.
      startsAt: '2024-05-01T10:00:00.123Z',
      fingerprint: (body.alerts as Array<{ fingerprint: string }>)[0].fingerprint,
      generatorURL: 'http://prometheus.example.org:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1',
      annotations: { summary: 'Disk almost full on db-1', description: 'Only 3% left on /var' },
    });
    // The message falls back to the alertname when there is no summary or description.
    expect(all.find((each) => each.eventId === second.eventId)!.payload.message).toBe('DiskFull');

    const record = (await get(`/alerts/${first.eventId}`).expect(200)).body as Record<
      string,
      unknown
    >;
    expect(record).toMatchObject({
      eventId: first.eventId,
      alertStatus: 'firing',
      message: 'Disk almost full on db-1',
      severity: 'warning',
      startsAt: '2024-05-01T10:00:00.123Z',
    });
    expect(record.endsAt).toBeUndefined();

    // Delivered to the webhook (json) with what Alertmanager said.
    const delivery = await waitFor(
      () => bed.receiver.deliveries.find((each) => each.body.eventId === first.eventId),
      'the alert to reach the webhook',
    );
    expect(delivery.body).toMatchObject({
      alertStatus: 'firing',
      fingerprint: entry.payload.fingerprint,
    });
  });

  it('adds nothing when Alertmanager sends the same notification again', async () => {
    const body = alertmanagerNotification([
      alertmanagerAlert({ alertname: 'Resent', instance: 'web-1:9100' }),
      alertmanagerAlert({ alertname: 'Resent', instance: 'web-2:9100' }),
    ]);
    const first = (await notify(body).expect(202)).body as Answer;
    const again = (await notify(body).expect(202)).body as Answer;
    expect(again).toEqual({
      accepted: 0,
      unchanged: 2,
      alerts: first.alerts.map((alert) => ({ ...alert, outcome: 'duplicate' })),
    });
    // Also once the publisher's own short de-duplication has expired: the record remembers.
    for (const { eventId } of first.alerts) await bed.client.del(`alerts:dedup:${eventId}`);
    const later = (await notify(body).expect(202)).body as Answer;
    expect(later.accepted).toBe(0);
    const all = await entries();
    for (const { eventId } of first.alerts) expect(countOf(all, eventId)).toBe(1);
  });

  it('keeps a resolved alert resolved: its own event, endsAt, and no firing after it', async () => {
    const firing = alertmanagerNotification([
      alertmanagerAlert({ alertname: 'Flapping', instance: 'cache-1:9100', summary: 'Cache down' }),
    ]);
    const resolved = alertmanagerNotification([
      alertmanagerAlert({
        alertname: 'Flapping',
        instance: 'cache-1:9100',
        summary: 'Cache down',
        status: 'resolved',
      }),
    ]);
    const fired = (await notify(firing).expect(202)).body as Answer;
    const resolve = (await notify(resolved).expect(202)).body as Answer;
    expect(resolve.accepted).toBe(1);
    const resolveId = resolve.alerts[0].eventId;
    expect(resolveId).not.toBe(fired.alerts[0].eventId);

    expect((await get(`/alerts/${resolveId}`).expect(200)).body).toMatchObject({
      alertStatus: 'resolved',
      endsAt: '2024-05-01T10:30:00.500Z',
      message: 'Cache down',
    });
    // The firing stays what it was; the resolve is a second alert.
    expect((await get(`/alerts/${fired.alerts[0].eventId}`).expect(200)).body).toMatchObject({
      alertStatus: 'firing',
    });
    const delivery = await waitFor(
      () => bed.receiver.deliveries.find((each) => each.body.eventId === resolveId),
      'the resolve to reach the webhook',
    );
    expect(delivery.body).toMatchObject({
      alertStatus: 'resolved',
      endsAt: '2024-05-01T10:30:00.500Z',
    });

    // A firing sent again after the resolve (Alertmanager's retry, or the other Alertmanager of an
    // HA pair running late) does not reopen it, nor does one that never got here before.
    const late = (await notify(firing).expect(202)).body as Answer;
    expect(late).toEqual({
      accepted: 0,
      unchanged: 1,
      alerts: [{ eventId: fired.alerts[0].eventId, outcome: 'already-resolved' }],
    });
    const unseen = alertmanagerAlert({ alertname: 'Flapping', instance: 'cache-9:9100' });
    await notify(alertmanagerNotification([{ ...unseen, status: 'resolved' }])).expect(202);
    const afterResolve = (await notify(alertmanagerNotification([unseen])).expect(202))
      .body as Answer;
    expect(afterResolve).toMatchObject({ accepted: 0, alerts: [{ outcome: 'already-resolved' }] });
    expect(countOf(await entries(), afterResolve.alerts[0].eventId)).toBe(0);
  });

  it("accepts Grafana's webhook notification, with its extra fields, and one without fingerprint", async () => {
    const answer = (
      await notify(
        grafanaNotification({
          alertname: 'High memory usage',
          severity: 'critical',
          summary: 'Memory above 90% in zone us-1',
          labels: { team: 'blue', zone: 'us-1', grafana_folder: 'Infra' },
        }),
      ).expect(202)
    ).body as Answer;
    expect(answer.accepted).toBe(1);
    const entry = (await entries()).find((each) => each.eventId === answer.alerts[0].eventId)!;
    expect(entry.payload).toMatchObject({
      message: 'Memory above 90% in zone us-1',
      severity: 'critical',
      // No instance label: the job.
      source: 'node',
      alertStatus: 'firing',
      generatorURL: 'https://grafana.example.org/alerting/grafana/1afz29v7z/view',
    });
    expect(entry.payload).not.toHaveProperty('values');

    const unfingerprinted = grafanaNotification({ alertname: 'Old Grafana', fingerprint: null });
    const first = (await notify(unfingerprinted).expect(202)).body as Answer;
    const second = (await notify(unfingerprinted).expect(202)).body as Answer;
    expect(second.alerts[0]).toEqual({ ...first.alerts[0], outcome: 'duplicate' });
    const derived = (await entries()).find((each) => each.eventId === first.alerts[0].eventId)!;
    expect(derived.payload.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(first.alerts[0].eventId).toBe(
      relayedEventId(derived.payload.fingerprint as string, '2024-05-01T10:00:00.123Z', 'firing'),
    );
  });

  it('answers 400 with every problem, and appends nothing of such a notification', async () => {
    const good = alertmanagerAlert({ alertname: 'Fine', instance: 'ok-1' });
    const response = await notify(
      alertmanagerNotification([
        good,
        { ...good, status: 'pending' },
        { ...good, startsAt: 'soon', labels: { 'bad key': 'v' } },
      ]),
    ).expect(400);
    expect((response.body as { message: string[] }).message).toEqual([
      'alerts[1].status must be one of firing, resolved',
      'alerts[2].labels key "bad key" must use only letters, digits and _ . - (and not be a reserved name)',
      'alerts[2].startsAt must be an RFC 3339 time (when the alert began)',
    ]);
    expect((await entries()).some((entry) => entry.payload.message === 'Fine')).toBe(false);

    await notify({ alerts: [] }).expect(400);
    await request(app.url)
      .post('/alerts/alertmanager')
      .set('x-api-key', API_KEY)
      .set('content-type', 'application/json')
      .send('{"alerts": [')
      .expect(400);
  });

  it('takes notifications larger than HTTP_BODY_LIMIT_BYTES, up to its own limits (413 beyond)', async () => {
    const alerts = Array.from({ length: ALERTMANAGER_MAX_ALERTS }, (_, i) =>
      alertmanagerAlert({
        alertname: 'Big',
        instance: `node-${i}:9100`,
        description: 'd'.repeat(500),
      }),
    );
    const body = alertmanagerNotification(alerts);
    expect(JSON.stringify(body).length).toBeGreaterThan(HTTP_BODY_LIMIT_BYTES);
    expect(((await notify(body).expect(202)).body as Answer).accepted).toBe(
      ALERTMANAGER_MAX_ALERTS,
    );

    const tooMany = alertmanagerNotification([
      ...alerts,
      alertmanagerAlert({ alertname: 'Big', instance: 'one-more:9100' }),
    ]);
    const refused = await notify(tooMany).expect(413);
    expect((refused.body as { message: string }).message).toContain('max_alerts');

    const huge = alertmanagerNotification([
      alertmanagerAlert({
        alertname: 'Huge',
        description: 'd'.repeat(ALERTMANAGER_BODY_LIMIT_BYTES),
      }),
    ]);
    await notify(huge).expect(413);
    // POST /alerts keeps its own limit.
    await request(app.url)
      .post('/alerts')
      .set('x-api-key', API_KEY)
      .send({ message: 'x'.repeat(HTTP_BODY_LIMIT_BYTES + 1) })
      .expect(413);
  });

  it('needs the API key, as every /alerts route', async () => {
    const body = alertmanagerNotification([alertmanagerAlert({ alertname: 'Auth' })]);
    await request(app.url).post('/alerts/alertmanager').send(body).expect(401);
    await request(app.url)
      .post('/alerts/alertmanager')
      .set('authorization', 'Bearer wrong-key-0123456789')
      .send(body)
      .expect(401);
    await request(app.url)
      .post('/alerts/alertmanager')
      .set('x-api-key', API_KEY)
      .send(body)
      .expect(202);
  });

  it('answers 503 with Retry-After while Redis is full, and the retry appends each alert once', async () => {
    const body = alertmanagerNotification([
      alertmanagerAlert({ alertname: 'WhileFull', instance: 'a:9100' }),
      alertmanagerAlert({ alertname: 'WhileFull', instance: 'b:9100' }),
    ]);
    await bed.client.config('SET', 'maxmemory-policy', 'noeviction');
    await bed.client.config('SET', 'maxmemory', '1');
    try {
      const refused = await notify(body).expect(503);
      expect(refused.headers['retry-after']).toBe('5');
      expect((refused.body as { message: string }).message).toMatch(/Redis/);
    } finally {
      await bed.client.config('SET', 'maxmemory', '0');
    }
    const answer = (await notify(body).expect(202)).body as Answer;
    expect(answer.accepted).toBe(2);
    const all = await entries();
    for (const { eventId } of answer.alerts) expect(countOf(all, eventId)).toBe(1);
  });

  it('is in the OpenAPI document, with the API key', async () => {
    const document = (await request(app.url).get('/docs-json').expect(200)).body as {
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    expect(document.paths['/alerts/alertmanager']?.post?.security).toEqual([{ 'api-key': [] }]);
  });

  it('leaves POST /alerts as it was', async () => {
    const { body } = await request(app.url)
      .post('/alerts')
      .set('x-api-key', API_KEY)
      .send({ message: 'still here', severity: 'info' })
      .expect(202);
    expect(Object.keys(body as object).sort()).toEqual(['eventId', 'id']);
  });

  // Last: it kills this file's Redis.
  it('answers 503 with Retry-After, quickly, when Redis is down', async () => {
    await bed.redis.kill();
    const started = Date.now();
    const response = await notify(
      alertmanagerNotification([alertmanagerAlert({ alertname: 'NobodyHome' })]),
    ).expect(503);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(response.headers['retry-after']).toBe('5');
  });
});

describe('POST /alerts/alertmanager when only some alerts reach Redis', () => {
  const bed = appTestbed();
  let app: RunningApp;

  beforeAll(async () => {
    app = await bed.start({
      CONSUMER_NAME: 'am-2',
      ALERTS_PARTITIONS: '2',
      PUBLISH_TIMEOUT_MS: '1000',
    });
  });

  it('answers 503, and the retry appends only the alerts that did not get in', async () => {
    // Alerts go to the partition of their source (instance): two of each partition.
    const instances: string[] = [];
    for (let i = 0; instances.length < 4; i++) {
      const instance = `host-${i}:9100`;
      const inPartition = instances.filter(
        (each) => partitionOf(each, 2) === partitionOf(instance, 2),
      );
      if (inPartition.length < 2) instances.push(instance);
    }
    const body = alertmanagerNotification(
      instances.map((instance) => alertmanagerAlert({ alertname: 'Partial', instance })),
    );
    const post = () => request(app.url).post('/alerts/alertmanager').send(body);

    // Redis refuses the keys of partition 1 (as a full shard would); partition 0 takes its alerts.
    await bed.client.call(
      'ACL',
      'SETUSER',
      'default',
      'resetkeys',
      '~alerts:{0}*',
      '~alerts:record:*',
      '~alerts:recent',
    );
    try {
      await post().expect(503);
    } finally {
      await bed.client.call('ACL', 'SETUSER', 'default', 'allkeys');
    }
    const inPartition0 = await bed.client.xlen('alerts:{0}');
    expect(inPartition0).toBe(2);
    expect(await bed.client.xlen('alerts:{1}')).toBe(0);

    const answer = (await post().expect(202)).body as Answer;
    const outcomes = Object.fromEntries(
      answer.alerts.map((alert, i) => [instances[i], alert.outcome]),
    );
    for (const instance of instances) {
      expect(outcomes[instance]).toBe(partitionOf(instance, 2) === 0 ? 'duplicate' : 'accepted');
    }
    expect(await bed.client.xlen('alerts:{0}')).toBe(2);
    expect(await bed.client.xlen('alerts:{1}')).toBe(2);
    const eventIds = [
      ...(await bed.client.xrange('alerts:{0}', '-', '+')),
      ...(await bed.client.xrange('alerts:{1}', '-', '+')),
    ].map(([, flat]) => toRecord(flat).eventId);
    expect(new Set(eventIds).size).toBe(4);
    expect(eventIds.sort()).toEqual(answer.alerts.map((alert) => alert.eventId).sort());
  });
});
