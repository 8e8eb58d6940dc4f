import request from 'supertest';
import { appTestbed } from './support/app-testbed.js';
import type { RunningApp } from './support/test-app.js';
import { waitFor } from './support/wait-for.js';
import { WebhookReceiver } from './support/webhook-receiver.js';
import { writeReceiversFile, type ReceiversFile } from './support/receivers-file.js';

interface ReceiverView {
  name: string;
  status: string;
  attempts: number;
  lastError?: string;
}

interface AlertView {
  eventId: string;
  status: string;
  attempts: number;
  lastError?: string;
  receivers?: ReceiverView[];
}

const PD_KEY = 'pd-routing-key-0123456789';
const STUCK_TOKEN = 'stuck-token-abcdef0123456789';
/** Markers in the message tell the `stuck` receiver how to answer. */
const HANG = '[hang]';
const REJECT = '[400]';

/**
 * Three receivers from a file, each its own consumer group: `pager` takes critical alerts (in
 * PagerDuty's format), `chat` the others outside dev (Slack's), `stuck` those of teams db and web
 * and is slow or refusing when told to. One receiver's trouble never holds up another. The
 * tests share the app; the one that makes \`stuck\` hang (and open its circuit) comes last.
 */
describe('Receivers from ALERTS_RECEIVERS_FILE', () => {
  const bed = appTestbed();
  let app: RunningApp;
  let pager: WebhookReceiver;
  let chat: WebhookReceiver;
  let stuck: WebhookReceiver;
  let receivers: ReceiversFile | undefined;

  beforeAll(async () => {
    [pager, chat, stuck] = await Promise.all([
      WebhookReceiver.start(),
      WebhookReceiver.start(),
      WebhookReceiver.start(),
    ]);
    stuck.respond = (body) => {
      const message = String(body.message ?? '');
      if (message.includes(HANG)) return 'hang';
      return message.includes(REJECT) ? 400 : 200;
    };
    receivers = writeReceiversFile(
      `receivers:
  - name: pager
    url: ${pager.url}
    format: pagerduty
    routingKey: \${PD_KEY}
    matchers: ['severity="critical"']
  - name: chat
    url: ${chat.url}
    format: slack
    matchers: ['severity!="critical"', 'env!="dev"']
  - name: stuck
    url: ${stuck.url}
    headers: { Authorization: "Bearer \${STUCK_TOKEN}" }
    timeoutMs: 500
    matchers: ['team=~"db|web"']
`,
    );
    app = await bed.start({
      CONSUMER_NAME: 'receivers-1',
      ALERTS_RECEIVERS_FILE: receivers.path,
      PD_KEY,
      STUCK_TOKEN,
      RETRY_BACKOFF_BASE_MS: '50',
      RETRY_BACKOFF_MAX_MS: '200',
      RETRY_MAX_ATTEMPTS: '3',
    });
  });

  afterAll(async () => {
    // The app goes first (the testbed's afterAll), then what it delivered to.
    await app?.close();
    await Promise.all([pager?.close(), chat?.close(), stuck?.close()]);
    receivers?.remove();
  });

  async function post(body: Record<string, unknown>): Promise<string> {
    const response = await request(app.url).post('/alerts').send(body).expect(202);
    return (response.body as { eventId: string }).eventId;
  }

  async function record(eventId: string): Promise<AlertView> {
    return (await request(app.url).get(`/alerts/${eventId}`).expect(200)).body as AlertView;
  }

  function receiverOf(view: AlertView, name: string): ReceiverView | undefined {
    return view.receivers?.find((receiver) => receiver.name === name);
  }

  const deliveredTo = (receiver: WebhookReceiver, eventId: string) =>
    receiver.deliveries.find((d) => d.headers['idempotency-key'] === eventId);

  it('routes by matchers, in each receiver’s format, and keeps each receiver’s status', async () => {
    const critical = await post({
      message: 'Disk full',
      severity: 'critical',
      source: 'db-1',
      labels: { env: 'prod', team: 'db' },
    });
    const warning = await post({ message: 'Disk at 80 %', severity: 'warning', source: 'web-2' });

    const paged = await waitFor(() => deliveredTo(pager, critical), 'the page');
    expect(paged.body).toMatchObject({
      routing_key: PD_KEY,
      event_action: 'trigger',
      payload: { summary: 'Disk full', severity: 'critical', source: 'db-1' },
    });
    const chatted = await waitFor(() => deliveredTo(chat, warning), 'the chat message');
    expect(chatted.body).toMatchObject({ text: expect.stringContaining('Disk at 80 %') });
    expect(chatted.body.blocks).toEqual(expect.any(Array));
    const ticket = await waitFor(() => deliveredTo(stuck, critical), 'the stuck delivery');
    expect(ticket.headers.authorization).toBe(`Bearer ${STUCK_TOKEN}`);

    const done = await waitFor(async () => {
      const view = await record(critical);
      return view.status === 'delivered' ? view : undefined;
    }, 'the critical alert to be delivered to both its receivers');
    expect(done.receivers).toEqual([
      expect.objectContaining({ name: 'pager', status: 'delivered', attempts: 1 }),
      expect.objectContaining({ name: 'stuck', status: 'delivered', attempts: 1 }),
    ]);
    expect(deliveredTo(chat, critical)).toBeUndefined();
    await waitFor(
      async () => (await record(warning)).status === 'delivered',
      'the warning to be delivered',
    );
    expect((await record(warning)).receivers).toEqual([
      expect.objectContaining({ name: 'chat', status: 'delivered' }),
    ]);
    expect(deliveredTo(pager, warning)).toBeUndefined();
    expect(deliveredTo(stuck, warning)).toBeUndefined();
  });

  it('dead-letters per receiver, with a reason that names it', async () => {
    const eventId = await post({
      message: `${REJECT} Bad payload`,
      severity: 'critical',
      labels: { team: 'db' },
    });
    const view = await waitFor(async () => {
      const current = await record(eventId);
      return current.status === 'dead-lettered' ? current : undefined;
    }, 'the alert to be dead-lettered by the stuck receiver');
    expect(receiverOf(view, 'pager')).toMatchObject({ status: 'delivered' });
    expect(receiverOf(view, 'stuck')).toMatchObject({
      status: 'dead-lettered',
      lastError: expect.stringContaining('receiver stuck: webhook answered 400'),
    });

    const letters = (
      await request(app.url)
        .get('/admin/streams/alerts/dead-letters?group=alerts-stuck')
        .expect(200)
    ).body as { items: Array<{ eventId: string; group: string; error: string }> };
    expect(letters.items).toEqual([
      expect.objectContaining({
        eventId,
        group: 'alerts-stuck',
        error: expect.stringContaining('receiver stuck: webhook answered 400'),
      }),
    ]);
  });

  it('shows an alert that no receiver takes as unrouted, and counts it', async () => {
    const eventId = await post({ message: 'Test noise', severity: 'info', labels: { env: 'dev' } });
    const view = await waitFor(async () => {
      const current = await record(eventId);
      return current.status === 'unrouted' ? current : undefined;
    }, 'the alert to be unrouted');
    expect(view.receivers).toEqual([]);
    const metrics = (await request(app.url).get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/^alerts_unrouted_total [1-9]/m);
    expect(metrics).toMatch(/^alerts_receiver_delivered_total\{receiver="pager"\} [1-9]/m);
    expect(metrics).toMatch(/^alerts_receiver_skipped_total\{receiver="chat"\} [1-9]/m);
    expect(metrics).toMatch(
      /^redis_streams_dead_lettered_total\{stream="alerts",group="alerts-stuck"\} 1$/m,
    );
    expect(metrics).toMatch(
      /^redis_streams_dead_lettered_total\{stream="alerts",group="alerts-pager"\} 0$/m,
    );
  });

  it('pauses and resumes one receiver while the others go on', async () => {
    await request(app.url).post('/admin/streams/alerts/groups/alerts-chat/pause').expect(200);
    try {
      const held = await post({ message: 'Cert expires soon', severity: 'warning' });
      const paged = await post({ message: 'Site down', severity: 'critical' });
      await waitFor(() => deliveredTo(pager, paged), 'the page while chat is paused');
      expect(deliveredTo(chat, held)).toBeUndefined();
      await request(app.url).post('/admin/streams/alerts/groups/alerts-chat/resume').expect(200);
      await waitFor(() => deliveredTo(chat, held), 'the chat message after resume');
    } finally {
      await request(app.url).post('/admin/streams/alerts/groups/alerts-chat/resume');
    }
  });

  it('lets a receiver that hangs hold up only its own group', async () => {
    const started = Date.now();
    const eventIds: string[] = [];
    for (let i = 0; i < 10; i += 1) {
      eventIds.push(
        await post({
          message: `${HANG} Replica lag ${i}`,
          severity: 'critical',
          labels: { team: 'web' },
        }),
      );
    }
    await waitFor(
      () => eventIds.every((eventId) => deliveredTo(pager, eventId)),
      'every page while the stuck receiver hangs',
      5_000,
    );
    // Each call to `stuck` takes its 500 ms timeout: 10 alerts there cannot be done in this time.
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(eventIds.filter((eventId) => deliveredTo(stuck, eventId))).toEqual([]);

    const view = await waitFor(async () => {
      const current = await record(eventIds[0]);
      return receiverOf(current, 'stuck')?.lastError ? current : undefined;
    }, 'a failed attempt of the stuck receiver on the record');
    expect(view.status).toBe('pending');
    expect(receiverOf(view, 'pager')).toMatchObject({ status: 'delivered' });
    expect(receiverOf(view, 'stuck')!.lastError).toMatch(
      /^receiver stuck: webhook did not answer: no answer within 500 ms/,
    );
  });

  it('never shows a secret in records, dead letters or the admin views', async () => {
    const texts = await Promise.all(
      ['/alerts?limit=200', '/admin/streams', '/admin/streams/alerts/dead-letters', '/metrics'].map(
        async (path) => (await request(app.url).get(path).expect(200)).text,
      ),
    );
    for (const text of texts) {
      expect(text).not.toContain(PD_KEY);
      expect(text).not.toContain(STUCK_TOKEN);
    }
  });
});
