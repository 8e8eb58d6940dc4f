import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedDelivery {
  at: number;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** What the receiver answers for one request: a status code, or `'hang'` to never answer. */
export type WebhookReply = number | 'hang';

/**
 * An HTTP server that records every webhook delivery. `respond` decides the status of each
 * request, so tests can make the receiver fail for a while and then recover.
 */
export class WebhookReceiver {
  readonly deliveries: ReceivedDelivery[] = [];
  respond: (body: Record<string, unknown>, attempt: number) => WebhookReply = () => 200;
  private readonly attemptsByKey = new Map<string, number>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<WebhookReceiver> {
    const server = createServer();
    const receiver = new WebhookReceiver(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        } catch {
          body = { unparsable: Buffer.concat(chunks).toString('utf8') };
        }
        const key = String(req.headers['idempotency-key'] ?? '');
        const attempt = (receiver.attemptsByKey.get(key) ?? 0) + 1;
        receiver.attemptsByKey.set(key, attempt);
        const reply = receiver.respond(body, attempt);
        if (reply === 'hang') return;
        if (reply >= 200 && reply < 300) {
          receiver.deliveries.push({ at: Date.now(), headers: req.headers, body });
        }
        res.statusCode = reply;
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  /** How many requests (successful or not) arrived with this idempotency key. */
  attempts(key: string): number {
    return this.attemptsByKey.get(key) ?? 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
