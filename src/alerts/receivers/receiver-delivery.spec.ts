import { Logger } from '@nestjs/common';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseMatcher, type LabelMatcher } from '../../config/label-matchers.js';
import type { ReceiverSettings } from '../../config/receivers-file.js';
import {
  NonRetryableError,
  RetryLaterError,
  type StreamMessage,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { WEBHOOK_BUSY } from '../alerts.constants.js';
import type { AlertEventDto } from '../alert-event.dto.js';
import type { AlertStore } from '../alert-store.js';
import { ReceiverDelivery } from './receiver-delivery.js';
import { ReceiverEvents } from './receiver-events.js';
import type { ReceiverRouting } from './receiver-routing.js';
import { toReceiver } from './receiver.js';

interface Received {
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

/** A webhook whose answer each test sets; `'hang'` never answers. */
class FakeWebhook {
  reply: number | 'hang' = 200;
  /** Sent with every answer while set. */
  retryAfter?: string;
  readonly received: Received[] = [];
  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeWebhook> {
    const server = createServer();
    const webhook = new FakeWebhook(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        webhook.received.push({ headers: req.headers, body });
        if (webhook.reply === 'hang') return;
        res.statusCode = webhook.reply;
        if (webhook.retryAfter !== undefined) res.setHeader('retry-after', webhook.retryAfter);
        if (webhook.reply >= 300 && webhook.reply < 400) res.setHeader('location', '/elsewhere');
        res.end('answer body');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return webhook;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Records what the handler writes to the store. */
function fakeStore(): { store: AlertStore; calls: Array<[string, ...unknown[]]> } {
  const calls: Array<[string, ...unknown[]]> = [];
  const record =
    (name: string) =>
    async (...args: unknown[]): Promise<string> => {
      calls.push([name, ...args]);
      return 'pending';
    };
  const store = {
    recordDelivered: record('delivered'),
    recordFailedAttempt: record('failed'),
  } as unknown as AlertStore;
  return { store, calls };
}

const alert = {
  message: 'Server down',
  severity: 'warning',
  source: 'web-1',
  labels: { env: 'prod' },
  receivedAt: '2026-01-01T00:00:00.000Z',
} as AlertEventDto;

function messageFor(attempt: number, signal = new AbortController().signal): StreamMessage {
  return {
    id: '1767225600000-0',
    stream: 'alerts',
    group: 'alerts-webhook',
    consumer: 'test',
    eventId: 'event-1',
    attempt,
    fields: {},
    signal,
  };
}

function matcher(text: string): LabelMatcher {
  const parsed = parseMatcher(text);
  if ('problem' in parsed) throw new Error(parsed.problem);
  return parsed;
}

describe('ReceiverDelivery', () => {
  let webhook: FakeWebhook;

  beforeAll(async () => {
    Logger.overrideLogger(false);
    webhook = await FakeWebhook.start();
  });

  afterAll(async () => {
    await webhook.close();
    Logger.overrideLogger(true);
  });

  /** A receiver `webhook` (as ALERTS_WEBHOOK_URL makes) or with `settings`, and its delivery. */
  function handler(
    url: string | undefined,
    timeoutMs = 300,
    settings: Partial<ReceiverSettings> = {},
    fromFile = false,
  ) {
    const { store, calls } = fakeStore();
    const events = new ReceiverEvents();
    const seen: string[] = [];
    events.subscribe({
      delivered: (name) => seen.push(`delivered ${name}`),
      skipped: (name) => seen.push(`skipped ${name}`),
    });
    const receiver = toReceiver({
      name: 'webhook',
      url,
      headers: {},
      format: 'json',
      matchers: [],
      maxAgeMs: 0,
      timeoutMs,
      secretValues: url ? [url] : [],
      ...settings,
    });
    const routing = { fromFile } as ReceiverRouting;
    const delivery = new ReceiverDelivery(store, routing, events);
    return {
      handler: {
        deliver: (payload: AlertEventDto, message: StreamMessage) =>
          delivery.deliver(receiver, payload, message),
      },
      calls,
      seen,
    };
  }

  it('POSTs the alert as JSON with the eventId as Idempotency-Key and records the delivery', async () => {
    webhook.reply = 204;
    const { handler: subject, calls } = handler(webhook.url);
    await subject.deliver(alert, messageFor(2));

    const request = webhook.received.at(-1)!;
    expect(request.headers['idempotency-key']).toBe('event-1');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.body).toEqual({
      eventId: 'event-1',
      id: '1767225600000-0',
      message: 'Server down',
      severity: 'warning',
      source: 'web-1',
      labels: { env: 'prod' },
      time: '2026-01-01T00:00:00.000Z',
    });
    expect(calls).toEqual([['delivered', 'event-1', expect.any(Object), 2, 'webhook', undefined]]);
  });

  it("sends the receiver's headers, and records per receiver with a receivers file", async () => {
    webhook.reply = 200;
    const {
      handler: subject,
      calls,
      seen,
    } = handler(
      webhook.url,
      300,
      { name: 'tickets', headers: { Authorization: 'Bearer s3cr3t-token', 'X-Team': 'db' } },
      true,
    );
    await subject.deliver(alert, messageFor(1));
    const request = webhook.received.at(-1)!;
    expect(request.headers.authorization).toBe('Bearer s3cr3t-token');
    expect(request.headers['x-team']).toBe('db');
    expect(calls).toEqual([['delivered', 'event-1', expect.any(Object), 1, 'webhook', 'tickets']]);
    expect(seen).toEqual(['delivered tickets']);
  });

  it('acknowledges an alert its matchers do not take without a call or a record', async () => {
    const before = webhook.received.length;
    const {
      handler: subject,
      calls,
      seen,
    } = handler(webhook.url, 300, {
      name: 'pager',
      matchers: [matcher('severity="critical"'), matcher('env=~"prod|staging"')],
    });
    await subject.deliver(alert, messageFor(1));
    expect(webhook.received).toHaveLength(before);
    expect(calls).toEqual([]);
    expect(seen).toEqual(['skipped pager']);

    webhook.reply = 200;
    await subject.deliver({ ...alert, severity: 'critical' }, messageFor(1));
    expect(webhook.received).toHaveLength(before + 1);
    expect(seen).toEqual(['skipped pager', 'delivered pager']);
  });

  it('names the receiver in every reason and never shows its secrets', async () => {
    webhook.reply = 400;
    const secretPath = `${webhook.url}/T000/B000/abcdefsecret`;
    const { handler: subject, calls } = handler(secretPath, 300, {
      name: 'chat',
      secretValues: [secretPath, 'abcdefsecret'],
    });
    const failure = subject.deliver(alert, messageFor(1));
    await expect(failure).rejects.toThrow(/^receiver chat: webhook answered 400/);
    expect(JSON.stringify(calls)).not.toContain('abcdefsecret');
  });

  it('sends the credentials of the URL as Basic authorization', async () => {
    webhook.reply = 200;
    const { handler: subject, calls } = handler(webhook.url.replace('http://', 'http://bot:pw@'));
    await subject.deliver(alert, messageFor(1));
    expect(webhook.received.at(-1)!.headers.authorization).toBe(
      `Basic ${Buffer.from('bot:pw').toString('base64')}`,
    );
    expect(calls[0][0]).toBe('delivered');
  });

  afterEach(() => {
    webhook.retryAfter = undefined;
  });

  it.each([500, 502, 504, 408])(
    'retries after %i with backoff, recording the failed attempt',
    async (status) => {
      webhook.reply = status;
      webhook.retryAfter = '30';
      const { handler: subject, calls } = handler(webhook.url);
      const failure = subject.deliver(alert, messageFor(3));
      await expect(failure).rejects.toThrow(`webhook answered ${status}`);
      await expect(failure).rejects.not.toBeInstanceOf(NonRetryableError);
      await expect(failure).rejects.not.toBeInstanceOf(RetryLaterError);
      expect(calls).toEqual([
        [
          'failed',
          'event-1',
          expect.any(Object),
          3,
          expect.stringContaining(String(status)),
          undefined,
        ],
      ]);
    },
  );

  it.each([
    [429, '7', 7_000],
    [503, '2', 2_000],
    [429, undefined, WEBHOOK_BUSY.defaultDelayMs],
    [503, 'tomorrow', undefined],
    [503, undefined, undefined],
    [429, '3600', WEBHOOK_BUSY.maxDelayMs],
  ])(
    'takes %i with Retry-After %j as busy: the group waits %j ms (undefined: this alert alone)',
    async (status, retryAfter, delayMs) => {
      webhook.reply = status;
      webhook.retryAfter = retryAfter;
      const { handler: subject, calls } = handler(webhook.url);
      const failure = subject.deliver(alert, messageFor(2));
      await expect(failure).rejects.toBeInstanceOf(RetryLaterError);
      await expect(failure).rejects.toMatchObject({ delayMs });
      await expect(failure).rejects.toThrow(`webhook answered ${status}`);
      expect(calls).toEqual([
        [
          'failed',
          'event-1',
          expect.any(Object),
          2,
          expect.stringContaining(
            delayMs === undefined ? 'this alert tries again later' : `waits ${delayMs} ms`,
          ),
          undefined,
        ],
      ]);
    },
  );

  it('reads a Retry-After date as the time left until then', async () => {
    webhook.reply = 503;
    webhook.retryAfter = new Date(Date.now() + 60_000).toUTCString();
    const { handler: subject } = handler(webhook.url);
    const error = (await subject.deliver(alert, messageFor(1)).catch((e: unknown) => e)) as {
      delayMs: number;
    };
    expect(error).toBeInstanceOf(RetryLaterError);
    // HTTP dates have whole seconds.
    expect(error.delayMs).toBeGreaterThan(58_000);
    expect(error.delayMs).toBeLessThanOrEqual(60_000);
  });

  it.each([400, 404, 422, 301])('gives up at once after %i', async (status) => {
    webhook.reply = status;
    const { handler: subject } = handler(webhook.url);
    const failure = subject.deliver(alert, messageFor(1));
    await expect(failure).rejects.toBeInstanceOf(NonRetryableError);
    await expect(failure).rejects.toThrow(`webhook answered ${status}`);
  });

  it('retries when the webhook does not answer in time', async () => {
    webhook.reply = 'hang';
    const { handler: subject, calls } = handler(webhook.url, 100);
    const started = Date.now();
    const failure = subject.deliver(alert, messageFor(1));
    await expect(failure).rejects.toThrow('no answer within 100 ms');
    await expect(failure).rejects.not.toBeInstanceOf(NonRetryableError);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(calls[0][0]).toBe('failed');
  });

  it('abandons the call when the message signal aborts, as a failure to retry', async () => {
    webhook.reply = 'hang';
    const { handler: subject, calls } = handler(webhook.url, 10_000);
    const controller = new AbortController();
    const started = Date.now();
    const failure = subject.deliver(alert, messageFor(1, controller.signal));
    setTimeout(() => controller.abort(), 100);
    await expect(failure).rejects.toThrow('webhook call abandoned');
    await expect(failure).rejects.not.toBeInstanceOf(NonRetryableError);
    await expect(failure).rejects.not.toBeInstanceOf(RetryLaterError);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(calls[0][0]).toBe('failed');
  });

  it('retries when nothing listens at the URL', async () => {
    const closed = await FakeWebhook.start();
    const url = closed.url;
    await closed.close();
    const { handler: subject } = handler(url);
    const failure = subject.deliver(alert, messageFor(1));
    await expect(failure).rejects.toThrow(/did not answer: fetch failed \(ECONNREFUSED\)/);
    await expect(failure).rejects.not.toBeInstanceOf(NonRetryableError);
  });

  it('only logs the alert, and records it delivered to the log, without a URL', async () => {
    const before = webhook.received.length;
    const { handler: subject, calls } = handler(undefined);
    await subject.deliver(alert, messageFor(1));
    expect(webhook.received).toHaveLength(before);
    expect(calls).toEqual([['delivered', 'event-1', expect.any(Object), 1, 'log', undefined]]);
  });
});
