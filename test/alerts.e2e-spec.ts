import request from 'supertest';
import { AlertStore } from '../src/alerts/alert-store.js';
import { appTestbed } from './support/app-testbed.js';
import { toRecord } from './support/stream-probe.js';
import type { RunningApp } from './support/test-app.js';
import { waitFor } from './support/wait-for.js';

const API_KEY = 'e2e-api-key-0123456789';
const BODY_LIMIT_BYTES = 16_384;

describe('Alerts HTTP API', () => {
  const bed = appTestbed();
  let app: RunningApp;

  beforeAll(async () => {
    app = await bed.start({
      CONSUMER_NAME: 'test-1',
      API_KEY,
      HTTP_BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES),
      PUBLISH_TIMEOUT_MS: '1000',
    });
  });

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    request(app.url)
      .post('/alerts')
      .set('x-api-key', API_KEY)
      .set(headers)
      .send(body as object);
  const get = (path: string) => request(app.url).get(path).set('x-api-key', API_KEY);

  /** The stream entries written with this eventId. */
  async function entriesOf(
    eventId: string,
  ): Promise<Array<{ id: string; fields: Record<string, string> }>> {
    const entries = await bed.client.xrange('alerts', '-', '+');
    return entries
      .map(([id, flat]) => ({ id, fields: toRecord(flat) }))
      .filter((entry) => entry.fields.eventId === eventId);
  }

  describe('POST /alerts', () => {
    it('answers 202 with the entry id and eventId once the alert is in the stream', async () => {
      const response = await post({
        message: 'Server down',
        source: 'web-1',
        labels: { env: 'prod', 'k8s.pod': 'web-1-abc' },
      }).expect(202);

      expect(Object.keys(response.body as object).sort()).toEqual(['eventId', 'id']);
      const { id, eventId } = response.body as { id: string; eventId: string };
      expect(id).toMatch(/^\d+-\d+$/);

      const [entry] = await bed.client.xrange('alerts', id, id);
      const fields = toRecord(entry[1]);
      expect(fields.eventId).toBe(eventId);
      const payload = JSON.parse(fields.payload) as Record<string, unknown>;
      expect(payload).toEqual({
        message: 'Server down',
        severity: 'critical',
        source: 'web-1',
        labels: { env: 'prod', 'k8s.pod': 'web-1-abc' },
      });
      // When it came in is the entry's publishedAt, not repeated in the payload.
      expect(Number(fields.publishedAt)).toBeGreaterThan(0);
    });

    it.each([
      ['the message is missing', { severity: 'info' }, 'message'],
      ['the message is empty', { message: '' }, 'message'],
      ['the message is too long', { message: 'x'.repeat(2001) }, 'message'],
      ['the severity is unknown', { message: 'm', severity: 'fatal' }, 'severity must be one of'],
      [
        'a property is unknown',
        { message: 'm', priority: 'high' },
        'property priority should not exist',
      ],
      [
        'there are too many labels',
        {
          message: 'm',
          labels: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v'])),
        },
        'labels must have at most 20 keys',
      ],
      [
        'a label value is not a string',
        { message: 'm', labels: { env: 1 } },
        'labels value of "env"',
      ],
      [
        'a label value is too long',
        { message: 'm', labels: { env: 'v'.repeat(257) } },
        'at most 256 characters',
      ],
      ['a label key has a space', { message: 'm', labels: { 'a b': 'v' } }, 'labels key "a b"'],
    ])('answers 400 with details when %s', async (_, body, detail) => {
      const response = await post(body).expect(400);
      const messages = (response.body as { message: string[] }).message;
      expect(messages.some((message) => message.includes(detail))).toBe(true);
    });

    it('answers 400 for a body that is not JSON', async () => {
      await request(app.url)
        .post('/alerts')
        .set('x-api-key', API_KEY)
        .set('content-type', 'application/json')
        .send('{"message": ')
        .expect(400);
    });

    it('answers 413 for a body over HTTP_BODY_LIMIT_BYTES', async () => {
      const body = JSON.stringify({ message: 'x'.repeat(BODY_LIMIT_BYTES + 1) });
      await request(app.url)
        .post('/alerts')
        .set('x-api-key', API_KEY)
        .set('content-type', 'application/json')
        .send(body)
        .expect(413);
    });

    it('adds one entry only when the same Idempotency-Key is sent twice', async () => {
      const headers = { 'Idempotency-Key': 'client-retry-42' };
      const first = await post({ message: 'Disk full' }, headers).expect(202);
      const second = await post({ message: 'Disk full' }, headers).expect(202);

      expect(second.body).toEqual(first.body);
      expect((first.body as { eventId: string }).eventId).toBe('client-retry-42');
      expect(await entriesOf('client-retry-42')).toHaveLength(1);
    });

    it('remembers an Idempotency-Key with the alert record, not with a day-long key of its own', async () => {
      const headers = { 'Idempotency-Key': 'client-retry-43' };
      const first = await post({ message: 'Disk full' }, headers).expect(202);
      // The publisher's own key only bridges the moments until the record is written.
      const ttl = await bed.client.pttl('alerts:dedup:client-retry-43');
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(5 * 60 * 1000);

      // A retry after it expired is still answered from the record, for as long as the record lives.
      await bed.client.del('alerts:dedup:client-retry-43');
      const second = await post({ message: 'Disk full' }, headers).expect(202);
      expect(second.body).toEqual(first.body);
      expect(await entriesOf('client-retry-43')).toHaveLength(1);
    });

    it('answers 400 for an Idempotency-Key that is not printable ASCII without spaces', async () => {
      await post({ message: 'm' }, { 'Idempotency-Key': 'has space' }).expect(400);
      await post({ message: 'm' }, { 'Idempotency-Key': 'x'.repeat(201) }).expect(400);
    });
  });

  describe('API key', () => {
    it('answers 401 without a key or with a wrong one', async () => {
      await request(app.url).post('/alerts').send({ message: 'm' }).expect(401);
      await request(app.url)
        .post('/alerts')
        .set('x-api-key', `${API_KEY}x`)
        .send({ message: 'm' })
        .expect(401);
      await request(app.url)
        .post('/alerts')
        .set('authorization', 'Bearer wrong')
        .send({ message: 'm' })
        .expect(401);
    });

    it('accepts the key as x-api-key or as a Bearer token', async () => {
      await request(app.url)
        .post('/alerts')
        .set('x-api-key', API_KEY)
        .send({ message: 'm' })
        .expect(202);
      await request(app.url)
        .post('/alerts')
        .set('authorization', `Bearer ${API_KEY}`)
        .send({ message: 'm' })
        .expect(202);
    });

    it('protects the GET routes too', async () => {
      await request(app.url).get('/alerts').expect(401);
      await request(app.url).get('/alerts/anything').expect(401);
    });
  });

  describe('GET /alerts', () => {
    it('finds an alert right after it was accepted', async () => {
      const { body } = await post({ message: 'Look me up', severity: 'info' }).expect(202);
      const { eventId, id } = body as { eventId: string; id: string };
      const record = (await get(`/alerts/${eventId}`).expect(200)).body as Record<string, unknown>;
      expect(record).toMatchObject({
        eventId,
        id,
        message: 'Look me up',
        severity: 'info',
        attempts: expect.any(Number),
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        receivedAt: expect.any(String),
      });
      expect(['pending', 'delivered']).toContain(record.status);
      // Without a webhook URL, alerts are logged and count as delivered to the log.
      await waitFor(
        async () =>
          ((await get(`/alerts/${eventId}`)).body as { status: string }).status === 'delivered',
        'the alert to be delivered to the log',
      );
      expect((await get(`/alerts/${eventId}`)).body).toMatchObject({
        status: 'delivered',
        deliveredVia: 'log',
        attempts: 1,
      });
    });

    it('answers 404 for an unknown eventId', async () => {
      await get('/alerts/no-such-alert').expect(404);
    });

    it.each(['0', '201', 'abc', '1.5'])('answers 400 for limit=%s', async (limit) => {
      await get(`/alerts?limit=${limit}`).expect(400);
    });

    it('lists the most recent alerts, newest first', async () => {
      const ids: string[] = [];
      for (const n of [1, 2, 3]) {
        const { body } = await post({ message: `list ${n}` }).expect(202);
        ids.push((body as { eventId: string }).eventId);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const { body } = await get('/alerts?limit=2').expect(200);
      const alerts = (body as { alerts: Array<{ eventId: string }> }).alerts;
      expect(alerts.map((alert) => alert.eventId)).toEqual([ids[2], ids[1]]);
    });
  });

  describe('alert store', () => {
    // The store reads an alert's content from its entry: these tests append real ones. Flat
    // fields, so that the service's own handlers record them under their entry ids, not these.
    const append = async (stream: string, message: string) => ({
      stream,
      id: (await bed.client.xadd(stream, '*', 'message', message, 'severity', 'warning'))!,
    });

    it('never moves a delivered alert back to pending or to dead-lettered', async () => {
      const store = app.app.get(AlertStore);
      const at = await append('alerts', 'race');
      await store.recordFailedAttempt('race-1', at, 1, 'webhook answered 500');
      await store.recordDelivered('race-1', at, 2, 'webhook');
      // The recorder and a late dead letter arrive after the delivery:
      expect(await store.recordReceived('race-1', at)).toBe('delivered');
      expect(await store.recordDeadLettered('race-1', at, 1, 'late', '1-0')).toBe('delivered');
      expect(await store.recordFailedAttempt('race-1', at, 1, 'stale')).toBe('delivered');

      expect(await store.find('race-1')).toMatchObject({
        id: at.id,
        status: 'delivered',
        deliveredVia: 'webhook',
        attempts: 2,
        lastError: 'webhook answered 500',
        message: 'race',
        severity: 'warning',
      });
    });

    it('keeps the first entry and keys every record under alerts: with a 7-day expiry', async () => {
      const store = app.app.get(AlertStore);
      const first = await append('alerts', 'race');
      const other = await append('alerts', 'other');

      await store.recordDeadLettered('race-2', first, 3, 'gave up', '');
      await store.recordReceived('race-2', other);
      expect(await store.find('race-2')).toMatchObject({
        id: first.id,
        status: 'dead-lettered',
        attempts: 3,
        message: 'race',
      });

      const ttl = await bed.client.pttl('alerts:record:race-2');
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(7 * 24 * 60 * 60 * 1000);
      expect(await bed.client.zscore('alerts:recent', 'race-2')).toBe(first.id.split('-')[0]);
    });

    it('stores a small hash that points at the entry, not a copy of the alert', async () => {
      const store = app.app.get(AlertStore);
      const at = await append('alerts:{7}', 'x'.repeat(500));
      await store.recordReceived('small-1', at);
      await store.recordDelivered('small-1', at, 1, 'webhook');

      const hash = await bed.client.hgetall('alerts:record:small-1');
      expect(Object.keys(hash).sort()).toEqual(['a', 'i', 'q', 's', 't']);
      expect(hash).toMatchObject({ i: at.id, q: 'alerts:{7}', s: 'w', a: '1' });
      // Small enough for Redis's compact encoding.
      expect(await bed.client.call('OBJECT', 'ENCODING', 'alerts:record:small-1')).toBe('listpack');
      expect(await store.find('small-1')).toMatchObject({ message: 'x'.repeat(500) });
    });

    it('shows a dead letter once its entry is trimmed, and the status alone once both are gone', async () => {
      const store = app.app.get(AlertStore);
      const at = await append('alerts:{8}', 'trimmed later');
      const deadLetterId = (await bed.client.xadd(
        'alerts:{8}:dlq',
        '*',
        'message',
        'trimmed later',
      ))!;
      await store.recordDeadLettered('trim-1', at, 5, 'webhook answered 400', deadLetterId);
      await bed.client.xdel('alerts:{8}', at.id);

      expect(await store.find('trim-1')).toMatchObject({
        id: at.id,
        message: 'trimmed later',
        status: 'dead-lettered',
        deadLetteredAt: new Date(Number(deadLetterId.split('-')[0])).toISOString(),
      });

      await bed.client.xdel('alerts:{8}:dlq', deadLetterId);
      const record = await store.find('trim-1');
      expect(record).toMatchObject({
        id: at.id,
        status: 'dead-lettered',
        attempts: 5,
        lastError: 'webhook answered 400',
        contentTrimmed: true,
        createdAt: new Date(Number(at.id.split('-')[0])).toISOString(),
      });
      expect(record!.message).toBeUndefined();
    });

    it('reads records written before records were compact, and carries their state over', async () => {
      const store = app.app.get(AlertStore);
      const at = await append('alerts', 'old record');
      const legacy = {
        eventId: 'legacy-1',
        id: at.id,
        message: 'old record',
        severity: 'info',
        status: 'delivered',
        deliveredVia: 'webhook',
        attempts: '2',
        createdAt: '2025-01-01T00:00:00.000Z',
        updatedAt: '2025-01-01T00:00:01.000Z',
        deliveredAt: '2025-01-01T00:00:01.000Z',
      };
      await bed.client.hset('alerts:record:legacy-1', legacy);
      expect(await store.find('legacy-1')).toMatchObject({
        ...legacy,
        attempts: 2,
        status: 'delivered',
      });

      // A lagging recorder writes to it after the upgrade: it stays delivered.
      expect(await store.recordReceived('legacy-1', at)).toBe('delivered');
      expect(await store.find('legacy-1')).toMatchObject({
        status: 'delivered',
        deliveredVia: 'webhook',
        attempts: 2,
        message: 'old record',
      });
    });
  });

  // Last: it kills this file's Redis.
  describe('when Redis is down', () => {
    it('answers 503 quickly instead of hanging', async () => {
      await bed.redis.kill();
      const started = Date.now();
      const response = await post({ message: 'nobody home' }).expect(503);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect((response.body as { message: string }).message).toMatch(/Redis/);

      const readStarted = Date.now();
      await get('/alerts').expect(503);
      expect(Date.now() - readStarted).toBeLessThan(3_000);
    });
  });
});
