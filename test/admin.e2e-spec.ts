import request from 'supertest';
import { appTestbed } from './support/app-testbed.js';
import type { RunningApp } from './support/test-app.js';
import { waitFor } from './support/wait-for.js';

const API_KEY = 'admin-e2e-key-0123456789';
/** Alerts whose message carries this are refused by the webhook (400) until their eventId is accepted. */
const REJECTED = '[400]';

interface DeadLetterView {
  id: string;
  originalId: string;
  truncated?: boolean;
  eventId: string;
  group: string;
  error: string;
  attempts: number;
  fields: Record<string, string>;
}
interface Page<T> {
  items: T[];
  next?: string;
}
interface ReplayResult {
  replayed: Array<{ deadLetterId: string; newId: string }>;
  missing: string[];
}
interface GroupView {
  name: string;
  lag: number | null;
  pending: number;
  consumers: Array<{ name: string }>;
  consumerCount: number;
}
interface StreamView {
  stream: string;
  length: number;
  groups: GroupView[];
  deadLetter: { stream: string; length: number };
}

describe('Admin API', () => {
  const accepted = new Set<string>();
  const bed = appTestbed({
    webhook: (body) =>
      String(body.message).includes(REJECTED) && !accepted.has(String(body.eventId)) ? 400 : 200,
  });
  let app: RunningApp;

  beforeAll(async () => {
    app = await bed.start({
      API_KEY,
      CONSUMER_NAME: 'admin-e2e',
      RETRY_BACKOFF_BASE_MS: '50',
      RETRY_BACKOFF_MAX_MS: '200',
    });
  });

  const get = (path: string) => request(app.url).get(path).set('x-api-key', API_KEY);
  const post = (path: string, body?: object) =>
    request(app.url).post(path).set('x-api-key', API_KEY).send(body);
  const del = (path: string) => request(app.url).delete(path).set('x-api-key', API_KEY);

  async function postAlert(message: string): Promise<{ id: string; eventId: string }> {
    const response = await post('/alerts', { message }).expect(202);
    return response.body as { id: string; eventId: string };
  }

  async function deadLetters(query = ''): Promise<Page<DeadLetterView>> {
    return (await get(`/admin/streams/alerts/dead-letters${query}`).expect(200))
      .body as Page<DeadLetterView>;
  }

  /** Posts rejected alerts and waits until each is a dead letter; newest first, like the API. */
  async function makeDeadLetters(count: number, label: string): Promise<DeadLetterView[]> {
    const eventIds: string[] = [];
    for (let i = 0; i < count; i++) {
      eventIds.push((await postAlert(`${label} ${i} ${REJECTED}`)).eventId);
    }
    return waitFor(
      async () => {
        const letters = (await deadLetters('?limit=200')).items.filter((letter) =>
          eventIds.includes(letter.eventId),
        );
        return letters.length === count ? letters : undefined;
      },
      `${count} dead letters labelled ${label}`,
      20_000,
    );
  }

  /** The message of an error answer: a string, or the list of validation problems. */
  function messageOf(body: { message?: string | string[] }): string {
    return ([] as string[]).concat(body.message ?? []).join('\n');
  }

  function deliveries(eventId: string): number {
    return bed.receiver.deliveries.filter((d) => d.headers['idempotency-key'] === eventId).length;
  }

  describe('authentication', () => {
    it.each([
      ['GET', '/admin/streams'],
      ['GET', '/admin/history'],
      ['GET', '/admin/streams/alerts/dead-letters'],
      ['POST', '/admin/streams/alerts/dead-letters/replay'],
      ['POST', '/admin/streams/alerts/dead-letters/1-0/replay'],
      ['DELETE', '/admin/streams/alerts/dead-letters/1-0'],
    ])('answers 401 to %s %s without the key, or with a wrong one', async (method, path) => {
      const call = (key?: string) => {
        const req =
          method === 'GET'
            ? request(app.url).get(path)
            : method === 'POST'
              ? request(app.url)
                  .post(path)
                  .send({ ids: ['1-0'] })
              : request(app.url).delete(path);
        return key ? req.set('x-api-key', key) : req;
      };
      expect((await call()).status).toBe(401);
      expect((await call('wrong-key-but-long-enough')).status).toBe(401);
    });

    it('takes the key as a Bearer token too', async () => {
      await request(app.url)
        .get('/admin/streams')
        .set('authorization', `Bearer ${API_KEY}`)
        .expect(200);
    });

    it('serves the dashboard files without a key, with a strict content security policy', async () => {
      const page = await request(app.url).get('/dashboard').expect(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.headers['content-security-policy']).toContain("script-src 'self'");
      expect(page.text).toContain('/dashboard/dashboard.js');
      const script = await request(app.url).get('/dashboard/dashboard.js').expect(200);
      expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(script.text).toContain('x-api-key');
      for (const module of ['charts.js', 'dom.js']) {
        expect(script.text).toContain(`from './${module}'`);
        const served = await request(app.url).get(`/dashboard/${module}`).expect(200);
        expect(served.headers['content-type']).toBe('text/javascript; charset=utf-8');
        expect(served.headers['content-security-policy']).toContain("script-src 'self'");
      }
      const style = await request(app.url).get('/dashboard/dashboard.css').expect(200);
      expect(style.headers['content-type']).toBe('text/css; charset=utf-8');
      await request(app.url).get('/dashboard/../package.json').expect(404);
    });
  });

  describe('streams', () => {
    it('lists the handled streams with their groups, consumers, lag and pending', async () => {
      const { eventId } = await postAlert('Streams listing');
      await waitFor(() => deliveries(eventId) === 1, 'the delivery');
      const { items, next } = (await get('/admin/streams').expect(200)).body as Page<StreamView>;
      expect(next).toBeUndefined();
      expect(items.map((s) => s.stream)).toEqual(['alerts', 'alerts:dlq']);
      const alerts = items[0];
      expect(alerts.length).toBeGreaterThanOrEqual(1);
      expect(alerts.deadLetter.stream).toBe('alerts:dlq');
      expect(alerts.groups.map((g) => g.name).sort()).toEqual([
        'alerts-recorder',
        'alerts-webhook',
      ]);
      const webhook = alerts.groups.find((g) => g.name === 'alerts-webhook')!;
      expect(webhook).toMatchObject({ consumerCount: 1, consumers: [{ name: 'admin-e2e' }] });
      expect(typeof webhook.pending).toBe('number');
      expect(items[1].groups.map((g) => g.name)).toEqual(['alerts-recorder-dlq']);

      const one = (await get('/admin/streams/alerts').expect(200)).body as StreamView;
      expect(one.stream).toBe('alerts');
      const dlq = (await get('/admin/streams/alerts%3Adlq').expect(200)).body as StreamView;
      expect(dlq.deadLetter.stream).toBe('alerts:dlq:dlq');
      await get('/admin/streams/alerts:dlq/dead-letters').expect(200);
    });

    it('pages through the streams with cursor and limit', async () => {
      const first = (await get('/admin/streams?limit=1').expect(200)).body as Page<StreamView>;
      expect(first.items.map((s) => s.stream)).toEqual(['alerts']);
      expect(first.next).toBe('alerts');
      const second = (await get(`/admin/streams?limit=1&cursor=${first.next}`).expect(200))
        .body as Page<StreamView>;
      expect(second.items.map((s) => s.stream)).toEqual(['alerts:dlq']);
      expect(second.next).toBeUndefined();
    });

    it('shows the pending entries of a group with idle time and deliveries, page by page', async () => {
      await bed.client.xgroup('CREATE', 'alerts', 'admin-manual', '$');
      try {
        for (let i = 0; i < 3; i++) await postAlert(`Pending ${i}`);
        await bed.client.xreadgroup(
          'GROUP',
          'admin-manual',
          'operator',
          'COUNT',
          10,
          'STREAMS',
          'alerts',
          '>',
        );
        const path = '/admin/streams/alerts/groups/admin-manual/pending';
        const first = (await get(`${path}?limit=2`).expect(200)).body as Page<{
          id: string;
          consumer: string;
          idleMs: number;
          deliveries: number;
        }>;
        expect(first.items).toHaveLength(2);
        expect(first.items[0]).toMatchObject({ consumer: 'operator', deliveries: 1 });
        expect(first.items[0].idleMs).toBeGreaterThanOrEqual(0);
        const second = (await get(`${path}?limit=2&cursor=${first.next}`).expect(200))
          .body as Page<unknown>;
        expect(second.items).toHaveLength(1);
        expect(second.next).toBeUndefined();
      } finally {
        await bed.client.xgroup('DESTROY', 'alerts', 'admin-manual');
      }
    });
  });

  describe('errors', () => {
    it('answers 404 for a stream no handler consumes, and for an unknown group', async () => {
      const unknown = await get('/admin/streams/secrets').expect(404);
      expect(unknown.body.message).toContain('secrets');
      expect(unknown.body.message).toContain('alerts, alerts:dlq');
      await get('/admin/streams/secrets/dead-letters').expect(404);
      await post('/admin/streams/secrets/dead-letters/replay', { filter: {} }).expect(404);
      await del('/admin/streams/secrets/dead-letters/1-0').expect(404);
      const group = await get('/admin/streams/alerts/groups/nobody/pending').expect(404);
      expect(group.body.message).toContain('nobody');
    });

    it.each([
      ['/admin/streams?limit=0', 'limit must not be less than 1'],
      ['/admin/streams?limit=201', 'limit must not be greater than 200'],
      ['/admin/streams?limit=abc', 'limit must be an integer number'],
      ['/admin/streams/alerts/dead-letters?cursor=yesterday', 'cursor must be a stream entry id'],
      ['/admin/streams/alerts/dead-letters?sort=asc', 'property sort should not exist'],
      ['/admin/streams/alerts/groups/alerts-webhook/pending?cursor=x', 'cursor must be'],
    ])('answers 400 with the details for GET %s', async (path, detail) => {
      const response = await get(path).expect(400);
      expect(messageOf(response.body)).toContain(detail);
    });

    it.each([
      ['nothing', {}, 'send either "ids" or "filter"'],
      ['both ids and a filter', { ids: ['1-0'], filter: {} }, 'send either "ids" or "filter"'],
      ['no ids', { ids: [] }, 'ids should not be empty'],
      ['a bad id', { ids: ['1-0', 'DROP TABLE'] }, 'each value in ids must be a stream entry id'],
      [
        '501 ids',
        { ids: Array.from({ length: 501 }, (_, i) => `${i}-0`) },
        'ids must contain no more than 500 elements',
      ],
      ['a zero limit', { filter: {}, limit: 0 }, 'limit must not be less than 1'],
      ['an unknown filter', { filter: { colour: 'red' } }, 'property colour should not exist'],
      ['a limit with ids', { ids: ['1-0'], limit: 5 }, '"limit" goes with "filter"'],
    ])('answers 400 to a replay with %s', async (_, body, detail) => {
      const response = await post('/admin/streams/alerts/dead-letters/replay', body).expect(400);
      expect(messageOf(response.body)).toContain(detail);
    });

    it('answers 400 for a malformed id in the path and an empty deletion', async () => {
      const replay = await post('/admin/streams/alerts/dead-letters/nope/replay').expect(400);
      expect(messageOf(replay.body)).toContain('"nope" is not a stream entry id');
      await del('/admin/streams/alerts/dead-letters/nope').expect(400);
      await post('/admin/streams/alerts/dead-letters/delete', { ids: [] }).expect(400);
    });
  });

  describe('dead letters', () => {
    it('lists them newest first with their reason, page by page', async () => {
      const made = await makeDeadLetters(5, 'Paged');
      const ids = made.map((letter) => letter.id);
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await deadLetters(`?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((letter) => letter.id));
        cursor = page.next;
        pages++;
      } while (cursor && pages < 50);
      expect(seen.filter((id) => ids.includes(id))).toEqual(ids);
      expect([...seen].sort().reverse()).toEqual(seen);
      expect(made[0]).toMatchObject({ group: 'alerts-webhook', attempts: 1 });
      expect(made[0].error).toContain('webhook answered 400');
      expect(made[0].fields.payload).toContain('Paged 4');
    });

    it('shortens long values in the list, and replays the whole entry', async () => {
      const long = `Huge ${'x'.repeat(10_000)}`;
      const id = (await bed.client.xadd('alerts', '*', 'severity', 'info', 'note', long))!;
      const letter = await waitFor(
        async () => (await deadLetters('?limit=200')).items.find((l) => l.originalId === id),
        'the dead letter of an entry without a message',
      );
      expect(letter.fields.note).toHaveLength(4_097);
      expect(letter).toMatchObject({ truncated: true });
      await post(`/admin/streams/alerts/dead-letters/${letter.id}/replay`).expect(200);
      const [[, fields]] = await bed.client.xrevrange('alerts', '+', '-', 'COUNT', 1);
      expect(fields).toEqual(['severity', 'info', 'note', long]);
      // Without a message it fails again: it is a dead letter once more. Clean up after it.
      const again = await waitFor(async () => {
        const letters = (await deadLetters('?limit=200')).items;
        const huge = letters.filter((l) => l.fields.note?.startsWith('Huge'));
        return huge.length > 0 ? huge : undefined;
      }, 'the replayed entry to be dead-lettered again');
      await post('/admin/streams/alerts/dead-letters/delete', {
        ids: again.map((l) => l.id),
      }).expect(200);
    });

    it('filters them by group and by error text', async () => {
      const [letter] = await makeDeadLetters(1, 'Filtered');
      const byGroup = await deadLetters('?group=alerts-webhook&limit=200');
      expect(byGroup.items.map((l) => l.id)).toContain(letter.id);
      expect((await deadLetters('?group=alerts-recorder')).items).toEqual([]);
      const byError = await deadLetters('?error=WEBHOOK%20ANSWERED%20400&limit=200');
      expect(byError.items.map((l) => l.id)).toContain(letter.id);
      expect((await deadLetters('?error=no-such-reason')).items).toEqual([]);
    });

    it('replays one entry once, however often it is asked, and it gets delivered', async () => {
      const [letter] = await makeDeadLetters(1, 'Replayed once');
      accepted.add(letter.eventId);
      const lengthBefore = await bed.client.xlen('alerts');
      const path = `/admin/streams/alerts/dead-letters/${letter.id}/replay`;
      const [a, b] = await Promise.all([post(path).expect(200), post(path).expect(200)]);
      const results = [a.body, b.body] as ReplayResult[];
      expect(results.flatMap((r) => r.replayed).map((r) => r.deadLetterId)).toEqual([letter.id]);
      expect(results.flatMap((r) => r.missing)).toEqual([letter.id]);
      const again = (await post(path).expect(200)).body as ReplayResult;
      expect(again).toEqual({ replayed: [], missing: [letter.id] });
      expect(await bed.client.xlen('alerts')).toBe(lengthBefore + 1);

      await waitFor(() => deliveries(letter.eventId) === 1, 'the replayed delivery');
      const record = await waitFor(async () => {
        const response = await get(`/alerts/${letter.eventId}`);
        return response.body.status === 'delivered' ? response.body : undefined;
      }, 'the alert to be recorded delivered');
      expect(record.status).toBe('delivered');
      expect((await deadLetters('?limit=200')).items.map((l) => l.id)).not.toContain(letter.id);
    });

    it('replays a list of ids and says which ones were missing', async () => {
      const letters = await makeDeadLetters(2, 'Replayed by id');
      letters.forEach((letter) => accepted.add(letter.eventId));
      const ids = letters.map((letter) => letter.id);
      const result = (
        await post('/admin/streams/alerts/dead-letters/replay', {
          ids: [...ids, '1-1', ids[0]],
        }).expect(200)
      ).body as ReplayResult;
      expect(result.replayed.map((r) => r.deadLetterId).sort()).toEqual([...ids].sort());
      expect(result.missing).toEqual(['1-1']);
      for (const letter of letters) {
        await waitFor(() => deliveries(letter.eventId) === 1, `the delivery of ${letter.eventId}`);
      }
    });

    it('replays what matches a filter, at most limit per call, then all the rest', async () => {
      await makeDeadLetters(3, 'Replayed by filter');
      const all = (await deadLetters('?limit=200')).items;
      all.forEach((letter) => accepted.add(letter.eventId));
      const first = (
        await post('/admin/streams/alerts/dead-letters/replay', {
          filter: { group: 'alerts-webhook', errorContains: 'answered 400' },
          limit: 2,
        }).expect(200)
      ).body as ReplayResult;
      // The newest two that match, appended in their original order.
      expect(first.replayed.map((r) => r.deadLetterId)).toEqual(
        all
          .map((l) => l.id)
          .slice(0, 2)
          .reverse(),
      );
      const rest = (
        await post('/admin/streams/alerts/dead-letters/replay', { filter: {} }).expect(200)
      ).body as ReplayResult;
      expect(rest.replayed).toHaveLength(all.length - 2);
      expect((await deadLetters()).items).toEqual([]);
      for (const letter of all) {
        await waitFor(() => deliveries(letter.eventId) >= 1, `the delivery of ${letter.eventId}`);
      }
      expect(all.every((letter) => deliveries(letter.eventId) === 1)).toBe(true);
    });

    it('deletes one or several, and counts only what was there', async () => {
      const [a, b] = await makeDeadLetters(2, 'Deleted');
      expect((await del(`/admin/streams/alerts/dead-letters/${a.id}`).expect(200)).body).toEqual({
        deleted: 1,
      });
      expect((await del(`/admin/streams/alerts/dead-letters/${a.id}`).expect(200)).body).toEqual({
        deleted: 0,
      });
      const many = await post('/admin/streams/alerts/dead-letters/delete', { ids: [b.id, '1-1'] });
      expect(many.status).toBe(200);
      expect(many.body).toEqual({ deleted: 1 });
      const left = (await deadLetters('?limit=200')).items.map((l) => l.id);
      expect(left).not.toContain(a.id);
      expect(left).not.toContain(b.id);
      expect(deliveries(a.eventId) + deliveries(b.eventId)).toBe(0);
    });
  });

  it('keeps a short history of lag, pending and throughput', async () => {
    const history = await waitFor(
      async () => {
        const body = (await get('/admin/history').expect(200)).body as {
          intervalMs: number;
          samples: Array<{ at: number; streams: Array<{ stream: string; groups: unknown[] }> }>;
        };
        return body.samples.length > 0 ? body : undefined;
      },
      'a history sample',
      20_000,
      250,
    );
    expect(history.intervalMs).toBe(5_000);
    const [sample] = history.samples;
    expect(sample.streams.map((s) => s.stream)).toEqual(['alerts', 'alerts:dlq']);
    expect(sample.streams[0].groups).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ group: 'alerts-webhook', lag: expect.any(Number) }),
      ]),
    );
  });

  it('documents every admin route in the OpenAPI document at /docs-json, with the API key', async () => {
    const ui = await request(app.url).get('/docs').redirects(1).expect(200);
    expect(ui.text).toContain('swagger');
    const document = (await request(app.url).get('/docs-json').expect(200)).body as {
      paths: Record<string, Record<string, { security?: unknown[]; tags?: string[] }>>;
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(document.components.securitySchemes['api-key']).toEqual({
      type: 'apiKey',
      in: 'header',
      name: 'x-api-key',
    });
    const expected: Array<[string, string]> = [
      ['/admin/streams', 'get'],
      ['/admin/streams/{stream}', 'get'],
      ['/admin/streams/{stream}/groups/{group}/pending', 'get'],
      ['/admin/history', 'get'],
      ['/admin/streams/{stream}/dead-letters', 'get'],
      ['/admin/streams/{stream}/dead-letters/replay', 'post'],
      ['/admin/streams/{stream}/dead-letters/{id}/replay', 'post'],
      ['/admin/streams/{stream}/dead-letters/delete', 'post'],
      ['/admin/streams/{stream}/dead-letters/{id}', 'delete'],
      ['/alerts', 'post'],
    ];
    for (const [path, method] of expected) {
      expect(document.paths[path]?.[method]?.security).toEqual([{ 'api-key': [] }]);
    }
    expect(Object.keys(document.paths).some((path) => path.startsWith('/dashboard'))).toBe(false);
  });

  it('answers 503 at once while Redis is down, and recovers', async () => {
    await bed.redis.stop();
    try {
      for (const path of ['/admin/streams', '/admin/streams/alerts/dead-letters']) {
        const started = Date.now();
        const response = await get(path);
        expect(response.status).toBe(503);
        expect(Date.now() - started).toBeLessThan(6_000);
      }
      const replay = await post('/admin/streams/alerts/dead-letters/replay', { filter: {} });
      expect(replay.status).toBe(503);
    } finally {
      await bed.redis.restart();
    }
    await waitFor(
      async () => (await get('/admin/streams')).status === 200,
      'the admin API to answer again',
      20_000,
      100,
    );
  });
});
