import request from 'supertest';
import { streamKeys } from '@redis-streams-alerts/nestjs-redis-streams';
import { appTestbed } from './support/app-testbed.js';
import type { RunningApp } from './support/test-app.js';

const API_KEY = 'group-flow-e2e-key-0123456789';
const WEBHOOK = '/admin/streams/alerts/groups/alerts-webhook';
const RECORDER = '/admin/streams/alerts/groups/alerts-recorder';

interface FlowState {
  paused: boolean;
  busyUntil?: string;
  circuit: 'closed' | 'open';
  nextProbeAt?: string;
  failureStreak: number;
}
interface StreamView {
  stream: string;
  groups: Array<{ name: string; flow?: FlowState }>;
}

/**
 * The admin API's pause and resume of consumer groups, and the flow state where groups are shown.
 * Only the state and the API are checked here: what a paused group delivers is the library's.
 */
describe('Admin API: pause and resume of consumer groups', () => {
  const bed = appTestbed();
  let app: RunningApp;

  beforeAll(async () => {
    app = await bed.start({ API_KEY, CONSUMER_NAME: 'group-flow-1' });
  });

  const get = (path: string, url = app.url) =>
    request(url).get(path).set('x-api-key', API_KEY).expect(200);
  const post = (path: string, url = app.url) => request(url).post(path).set('x-api-key', API_KEY);

  async function flowOf(path: string, url = app.url): Promise<FlowState> {
    return (await get(`${path}/flow`, url)).body as FlowState;
  }

  async function groupsOf(stream: string): Promise<Record<string, FlowState | undefined>> {
    const view = (await get(`/admin/streams/${encodeURIComponent(stream)}`)).body as StreamView;
    return Object.fromEntries(view.groups.map((group) => [group.name, group.flow]));
  }

  it.each([
    ['GET', `${WEBHOOK}/flow`],
    ['POST', `${WEBHOOK}/pause`],
    ['POST', `${WEBHOOK}/resume`],
  ])('answers 401 to %s %s without the key, or with a wrong one', async (method, path) => {
    const call = (key?: string) => {
      const req = method === 'GET' ? request(app.url).get(path) : request(app.url).post(path);
      return key ? req.set('x-api-key', key) : req;
    };
    expect((await call()).status).toBe(401);
    expect((await call('wrong-key-but-long-enough')).status).toBe(401);
    expect((await flowOf(WEBHOOK)).paused).toBe(false);
  });

  it('pauses a group and resumes it, answering the state, which the stream views show', async () => {
    const flowing = { paused: false, circuit: 'closed', failureStreak: 0 };
    expect(await flowOf(WEBHOOK)).toEqual(flowing);

    const paused = await post(`${WEBHOOK}/pause`).expect(200);
    expect(paused.body).toEqual({ ...flowing, paused: true });
    expect(await flowOf(WEBHOOK)).toEqual({ ...flowing, paused: true });
    // Only that group: the other group of the stream goes on.
    expect(await groupsOf('alerts')).toEqual({
      'alerts-webhook': { ...flowing, paused: true },
      'alerts-recorder': flowing,
    });
    const list = (await get('/admin/streams')).body as { items: StreamView[] };
    const webhook = list.items[0].groups.find((group) => group.name === 'alerts-webhook');
    expect(webhook?.flow).toEqual({ ...flowing, paused: true });

    // Both are idempotent.
    await post(`${WEBHOOK}/pause`).expect(200);
    expect((await post(`${WEBHOOK}/resume`).expect(200)).body).toEqual(flowing);
    expect((await post(`${WEBHOOK}/resume`).expect(200)).body).toEqual(flowing);
    expect(await groupsOf('alerts')).toEqual({
      'alerts-webhook': flowing,
      'alerts-recorder': flowing,
    });
  });

  it('pauses on every instance, and for an instance started after the pause', async () => {
    await post(`${RECORDER}/pause`).expect(200);
    const second = await bed.start({ API_KEY, CONSUMER_NAME: 'group-flow-2' });
    expect((await flowOf(RECORDER, second.url)).paused).toBe(true);
    await post(`${RECORDER}/resume`, second.url).expect(200);
    expect((await flowOf(RECORDER)).paused).toBe(false);
  });

  it('shows no flow for a group no handler of this service consumes, and will not pause it', async () => {
    await bed.client.xgroup('CREATE', 'alerts', 'someone-else', '$', 'MKSTREAM');
    try {
      const groups = await groupsOf('alerts');
      expect(Object.keys(groups).sort()).toEqual([
        'alerts-recorder',
        'alerts-webhook',
        'someone-else',
      ]);
      expect(groups['someone-else']).toBeUndefined();
      const refused = await post('/admin/streams/alerts/groups/someone-else/pause').expect(404);
      expect(refused.body.message).toBe(
        'No handler of this service consumes stream "alerts" as group "someone-else"; its groups are alerts-recorder, alerts-webhook',
      );
      expect(await bed.client.exists(streamKeys.flow('alerts', 'someone-else'))).toBe(0);
    } finally {
      await bed.client.xgroup('DESTROY', 'alerts', 'someone-else');
    }
  });

  it('answers 404 for an unknown stream or group, and writes nothing', async () => {
    const stream = await post('/admin/streams/secrets/groups/alerts-webhook/pause').expect(404);
    expect(stream.body.message).toContain('this service handles alerts, alerts:dlq');
    const group = await post('/admin/streams/alerts/groups/nobody/resume').expect(404);
    expect(group.body.message).toContain('"nobody"');
    // The group of the dead-letter stream is not a group of the alerts stream.
    await post('/admin/streams/alerts/groups/alerts-recorder-dlq/pause').expect(404);
    await request(app.url)
      .get('/admin/streams/alerts/groups/nobody/flow')
      .set('x-api-key', API_KEY)
      .expect(404);
    expect(
      await bed.client.exists(
        streamKeys.flow('secrets', 'alerts-webhook'),
        streamKeys.flow('alerts', 'nobody'),
        streamKeys.flow('alerts', 'alerts-recorder-dlq'),
      ),
    ).toBe(0);
    // While the dead-letter stream's own group can be paused.
    await post('/admin/streams/alerts%3Adlq/groups/alerts-recorder-dlq/pause').expect(200);
    await post('/admin/streams/alerts%3Adlq/groups/alerts-recorder-dlq/resume').expect(200);
  });

  it('shows a busy destination and an open circuit as the flow hash records them', async () => {
    const key = streamKeys.flow('alerts', 'alerts-webhook');
    try {
      // What the library writes after a busy signal of 60 s and a failure that opened the circuit
      // for 30 s (the flow hash's fields are in the package README), in the server's time.
      const [seconds] = await bed.client.time();
      const now = Number(seconds) * 1_000;
      await bed.client.hset(key, {
        busyUntil: now + 60_000,
        streak: 1,
        lastFailed: '1-0',
        openUntil: now + 30_000,
        probeMs: 30_000,
      });
      const flow = await flowOf(WEBHOOK);
      expect(flow).toMatchObject({ paused: false, circuit: 'open', failureStreak: 1 });
      expect(Date.parse(flow.busyUntil!) - Date.now()).toBeGreaterThan(50_000);
      expect(Date.parse(flow.nextProbeAt!) - Date.now()).toBeGreaterThan(20_000);
      expect((await groupsOf('alerts'))['alerts-webhook']).toEqual(flow);
    } finally {
      await bed.client.del(key);
    }
  });
});
