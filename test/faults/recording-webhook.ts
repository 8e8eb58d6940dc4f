import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the webhook received, whatever it answered. */
export interface WebhookRequest {
  /** Idempotency-Key header: the alert's eventId. */
  key: string;
  /** The stream entry id the body names. */
  entryId: string;
  /** 1 for the first request with this key, 2 for the second, ... */
  attempt: number;
  /** When the request (headers and body) had arrived. */
  at: number;
  /** The status it was answered with; undefined while it is held. */
  status?: number;
  /** When it was answered. */
  answeredAt?: number;
}

/** A status with response headers, e.g. 429 with `Retry-After`. */
export interface WebhookReply {
  status: number;
  headers?: Record<string, string>;
}

/** How to answer one request: a status (or a reply), possibly after a delay (a promise). */
export type WebhookAnswer = number | WebhookReply | Promise<number | WebhookReply>;

/**
 * The alerts' webhook for fault tests. Unlike the shared `WebhookReceiver` it can answer slowly or
 * hold requests (an answer may be a promise), and it records every request with its arrival time,
 * so retry gaps and duplicates per Idempotency-Key can be checked. An alert counts as delivered
 * once a request for it has been answered with a 2xx, even if the caller had gone by then: the
 * receiver did take it.
 */
export class RecordingWebhook {
  readonly requests: WebhookRequest[] = [];
  /** Decides each answer; 200 at once by default. */
  answer: (request: WebhookRequest) => WebhookAnswer = () => 200;
  /** Requests being answered right now, and the most there ever were at once. */
  inFlight = 0;
  peakInFlight = 0;
  private readonly attemptsByKey = new Map<string, number>();
  private readonly deliveredByKey = new Map<string, number>();
  private readonly firstDeliveryAt = new Map<string, number>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<RecordingWebhook> {
    const server = createServer();
    const webhook = new RecordingWebhook(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        let entryId = '';
        try {
          entryId = String(
            (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: unknown }).id,
          );
        } catch {
          // Not JSON: the key alone identifies the alert.
        }
        void webhook.handle(String(req.headers['idempotency-key'] ?? ''), entryId, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return webhook;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  /** How many 2xx answers each key got. */
  get delivered(): ReadonlyMap<string, number> {
    return this.deliveredByKey;
  }

  deliveredAt(key: string): number | undefined {
    return this.firstDeliveryAt.get(key);
  }

  /** Every request with this key, in arrival order. */
  requestsOf(key: string): WebhookRequest[] {
    return this.requests.filter((request) => request.key === key);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(key: string, entryId: string, res: ServerResponse): Promise<void> {
    const attempt = (this.attemptsByKey.get(key) ?? 0) + 1;
    this.attemptsByKey.set(key, attempt);
    const request: WebhookRequest = { key, entryId, attempt, at: Date.now() };
    this.requests.push(request);
    let reply: WebhookReply;
    this.inFlight += 1;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    try {
      const answer = await this.answer(request);
      reply = typeof answer === 'number' ? { status: answer } : answer;
    } catch {
      reply = { status: 500 };
    } finally {
      this.inFlight -= 1;
    }
    const { status } = reply;
    request.status = status;
    request.answeredAt = Date.now();
    if (status >= 200 && status < 300) {
      this.deliveredByKey.set(key, (this.deliveredByKey.get(key) ?? 0) + 1);
      if (!this.firstDeliveryAt.has(key)) this.firstDeliveryAt.set(key, Date.now());
    }
    if (!res.destroyed) {
      res.statusCode = status;
      for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
      res.end();
    }
  }
}
