import type { Redis } from 'ioredis';
import { mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Locator, type Page } from 'playwright-core';
import request from 'supertest';
import { StreamHistory } from '../src/admin/stream-history.js';
import { appTestbed } from './support/app-testbed.js';
import type { RunningApp } from './support/test-app.js';
import { sleep, waitFor } from './support/wait-for.js';

/** Debian's Chromium; never a downloaded browser. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
/** docs/dashboard.png is rewritten only on request, so a test run leaves the tree clean. */
const SCREENSHOT = process.env.UPDATE_SCREENSHOTS
  ? fileURLToPath(new URL('../docs/dashboard.png', import.meta.url))
  : join(tmpdir(), `dashboard-${process.pid}.png`);
const API_KEY = 'dashboard-e2e-key-0123456789';
/** How long the page may take to show a change: it polls every 2 s, on a busy 2-core machine. */
const PAGE_TIMEOUT_MS = 20_000;

const MESSAGES = [
  'CPU above 90% on web-3',
  'Disk 95% full on db-1',
  'p99 latency above 2 s on api-gw',
  'Queue depth rising on worker-2',
  'Replica lag 12 s on db-2',
  'Error rate 4% on checkout',
];

describe('Dashboard in headless Chromium', () => {
  const accepted = new Set<string>();
  // Alerts labelled webhook=reject are refused (400, so dead-lettered at once) until accepted.
  const bed = appTestbed({
    webhook: (body) => {
      const labels = (body.labels ?? {}) as Record<string, string>;
      return labels.webhook === 'reject' && !accepted.has(String(body.eventId)) ? 400 : 200;
    },
  });
  let client: Redis;
  let app: RunningApp;
  let history: StreamHistory;
  let page: Page;
  const browserErrors: string[] = [];

  beforeAll(async () => {
    client = bed.client;
    app = await bed.start({ API_KEY, CONSUMER_NAME: 'alerts-1' });
    history = app.app.get(StreamHistory);
    const browser = bed.own(
      await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 }),
    );
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(PAGE_TIMEOUT_MS);
    page.on('pageerror', (error) => browserErrors.push(error.message));
    page.on('console', (message) => {
      // The first load answers 401 until the key is typed in: Chromium logs that as an error.
      if (message.type() === 'error' && !/status of 401/.test(message.text())) {
        browserErrors.push(message.text());
      }
    });
  }, 60_000);

  afterEach(() => expect(browserErrors).toEqual([]));

  async function postAlert(
    message: string,
    labels: Record<string, string> = {},
  ): Promise<{ id: string; eventId: string }> {
    const response = await request(app.url)
      .post('/alerts')
      .set('x-api-key', API_KEY)
      .send({ message, severity: 'warning', source: 'monitoring', labels })
      .expect(202);
    return response.body as { id: string; eventId: string };
  }

  const delivered = (eventId: string): boolean =>
    bed.receiver.deliveries.some((d) => d.headers['idempotency-key'] === eventId);

  async function numberIn(cell: Locator): Promise<number> {
    return Number((await cell.textContent())?.replace(/\D/g, '') || NaN);
  }

  async function waitForNumber(
    cell: Locator,
    wanted: (n: number) => boolean,
    what: string,
  ): Promise<number> {
    const found = await waitFor(
      async () => {
        const value = await numberIn(cell);
        // Wrapped: waitFor takes a 0 for "not yet".
        return wanted(value) ? { value } : undefined;
      },
      what,
      PAGE_TIMEOUT_MS,
      100,
    );
    return found.value;
  }

  function deadLetterRow(eventId: string): Locator {
    return page.locator(`#dead-letters tr[data-event-id="${eventId}"]`);
  }

  it('asks for the API key once, then shows the streams and their numbers changing', async () => {
    await page.goto(`${app.url}/dashboard`);
    await page.locator('body.needs-key').waitFor();
    expect(await page.locator('#status').textContent()).toContain('API key');

    await page.locator('#api-key').fill(API_KEY);
    await page.locator('#api-key').press('Enter');
    const webhookRow = page.locator(
      '#streams tr[data-stream="alerts"][data-group="alerts-webhook"]',
    );
    await webhookRow.waitFor();
    // A string: the test is compiled without the DOM's types.
    const stored = await page.evaluate<string | null>(
      "sessionStorage.getItem('streams-dashboard.api-key')",
    );
    expect(stored).toBe(API_KEY);
    // Kept for the tab: a reload does not ask again.
    await page.reload();
    await webhookRow.waitFor();
    expect(await page.locator('body.needs-key').count()).toBe(0);

    const entries = page.locator('#streams tr[data-stream="alerts"] td.length').first();
    const before = await waitForNumber(entries, (n) => n >= 0, 'the entry count');
    await history.sample();
    const eventIds: string[] = [];
    for (const message of MESSAGES.slice(0, 5)) eventIds.push((await postAlert(message)).eventId);
    await waitForNumber(entries, (n) => n === before + 5, `${before + 5} entries on the page`);
    await waitFor(() => eventIds.every(delivered), 'the five deliveries');
    await waitFor(
      async () =>
        (await page
          .locator('#streams tr[data-group="alerts-webhook"] td.pending')
          .textContent()) === '0',
      'nothing pending for the webhook group',
      PAGE_TIMEOUT_MS,
    );

    // The throughput chart shows what the webhook group handled.
    await history.sample();
    await waitFor(
      async () => Number(await page.locator('#throughput-chart').getAttribute('data-max')) > 0,
      'a throughput above zero on the chart',
      PAGE_TIMEOUT_MS,
      100,
    );
    expect(await page.locator('#throughput-chart polyline').count()).toBeGreaterThan(0);
    expect(await page.locator('#throughput-legend').textContent()).toContain(
      'alerts · alerts-webhook handled',
    );
  });

  it('pauses a consumer group from its button and resumes it, on every instance', async () => {
    const flow = page.locator(
      '#streams tr[data-stream="alerts"][data-group="alerts-webhook"] td.flow',
    );
    const flowState = async (): Promise<{ paused: boolean }> =>
      (
        await request(app.url)
          .get('/admin/streams/alerts/groups/alerts-webhook/flow')
          .set('x-api-key', API_KEY)
          .expect(200)
      ).body as { paused: boolean };
    await flow.locator('button.pause').waitFor();
    expect(await flow.locator('.flow-state').textContent()).toBe('flowing');
    // A group of another service has no flow to show, and no button.
    await client.xgroup('CREATE', 'alerts', 'alerts-audit', '$');
    const other = page.locator('#streams tr[data-group="alerts-audit"] td.flow');
    await other.waitFor();
    expect(await other.textContent()).toBe('—');
    expect(await other.locator('button').count()).toBe(0);

    await flow.locator('button.pause').click();
    await flow.locator('button.resume').waitFor();
    expect(await flow.locator('.flow-state').textContent()).toBe('paused');
    expect(await flow.getAttribute('class')).toContain('warn');
    expect(await page.locator('#status').textContent()).toContain(
      'Paused alerts-webhook on alerts',
    );
    expect((await flowState()).paused).toBe(true);
    // The recorder group of the same stream goes on.
    expect(
      await page
        .locator('#streams tr[data-group="alerts-recorder"] td.flow .flow-state')
        .textContent(),
    ).toBe('flowing');

    await flow.locator('button.resume').click();
    await flow.locator('button.pause').waitFor();
    expect(await flow.locator('.flow-state').textContent()).toBe('flowing');
    expect((await flowState()).paused).toBe(false);
    await client.xgroup('DESTROY', 'alerts', 'alerts-audit');
  });

  it('lists a dead letter with its reason, replays it from its button, and it is delivered', async () => {
    const { eventId } = await postAlert('Disk 98% full on db-2', { webhook: 'reject' });
    const row = deadLetterRow(eventId);
    await row.waitFor();
    expect(await row.locator('td.reason').textContent()).toContain('webhook answered 400');
    expect(await row.locator('td.message').textContent()).toBe('Disk 98% full on db-2');
    expect(await row.locator('td.group').textContent()).toBe('alerts-webhook');
    expect(delivered(eventId)).toBe(false);

    accepted.add(eventId);
    await row.locator('button.replay').click();
    await waitFor(() => delivered(eventId), 'the replayed alert to be delivered', PAGE_TIMEOUT_MS);
    await row.waitFor({ state: 'detached' });
    expect(await page.locator('#status').textContent()).toContain(`Replayed ${eventId}`);
    await waitFor(
      async () =>
        (await request(app.url).get(`/alerts/${eventId}`).set('x-api-key', API_KEY)).body.status ===
        'delivered',
      'the alert to be recorded delivered',
    );
  });

  it('deletes a dead letter from its button once confirmed', async () => {
    const { eventId } = await postAlert('Backup job failed on nas-1', { webhook: 'reject' });
    const row = deadLetterRow(eventId);
    await row.waitFor();
    page.once('dialog', (dialog) => void dialog.accept());
    await row.locator('button.delete').click();
    await row.waitFor({ state: 'detached' });
    expect(await client.xlen('alerts:dlq')).toBe(0);
    expect(delivered(eventId)).toBe(false);
  });

  it('draws throughput and backlog over time, and saves a screenshot', async () => {
    // A slow extra consumer group, started at the beginning, gives the backlog chart a shape.
    await client.xgroup('CREATE', 'alerts', 'alerts-archive', '0');
    for (const [i, message] of [
      'Certificate expires in 5 days on mail-1',
      'Health check failing on search-2',
      'Memory above 95% on cache-1',
    ].entries()) {
      await postAlert(message, { webhook: 'reject', team: `team-${i}` });
    }
    for (let second = 0; second < 25; second++) {
      const burst = 2 + Math.round(3 * (1 + Math.sin(second / 3)));
      for (let i = 0; i < burst; i++) await postAlert(MESSAGES[(second + i) % MESSAGES.length]);
      const read = (await client.xreadgroup(
        'GROUP',
        'alerts-archive',
        'archiver-1',
        'COUNT',
        second < 15 ? 2 : 8,
        'STREAMS',
        'alerts',
        '>',
      )) as Array<[string, Array<[string, string[]]>]> | null;
      const ids = read?.[0]?.[1].map(([id]) => id) ?? [];
      if (ids.length > 1) await client.xack('alerts', 'alerts-archive', ...ids.slice(1));
      await history.sample();
      await sleep(1_000);
    }
    await waitFor(
      async () => (await page.locator('#dead-letters tbody tr').count()) === 3,
      'three dead letters on the page',
      PAGE_TIMEOUT_MS,
    );
    await page.locator('#streams tr[data-group="alerts-archive"]').waitFor();
    expect(await page.locator('#backlog-chart polyline').count()).toBeGreaterThan(0);
    expect(Number(await page.locator('#backlog-chart').getAttribute('data-max'))).toBeGreaterThan(
      0,
    );

    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const { size } = statSync(SCREENSHOT);
    expect(size).toBeGreaterThan(10_000);
    expect(size).toBeLessThan(1_000_000);
  }, 90_000);
});
