import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SHAPE_CHECKS } from './format-shapes.js';

export interface CheckedDelivery {
  at: number;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/**
 * A receiver that answers as the real one would: it takes a body of its format (Slack, PagerDuty
 * or the service's `json`) only when the shape fits, and answers 400 with the problems otherwise,
 * as Slack and PagerDuty do. Accepted bodies are kept in `deliveries`, refused ones in `refused`.
 */
export class FormatReceiver {
  readonly deliveries: CheckedDelivery[] = [];
  readonly refused: Array<{ body: unknown; problems: string[] }> = [];

  private constructor(
    private readonly server: Server,
    readonly format: string,
  ) {}

  static async start(format: string): Promise<FormatReceiver> {
    const check = SHAPE_CHECKS[format];
    if (!check) throw new Error(`no shape check for format "${format}"`);
    const server = createServer();
    const receiver = new FormatReceiver(server, format);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        let body: unknown;
        let problems: string[];
        if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) {
          problems = ['content-type must be application/json'];
        } else {
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
            problems = check(body);
          } catch {
            problems = ['the body is not JSON'];
          }
        }
        res.setHeader('content-type', 'application/json');
        if (problems.length > 0) {
          receiver.refused.push({ body, problems });
          res.statusCode = 400;
          res.end(JSON.stringify({ status: 'invalid event', errors: problems }));
          return;
        }
        const accepted = body as Record<string, unknown>;
        receiver.deliveries.push({ at: Date.now(), headers: req.headers, body: accepted });
        // PagerDuty answers 202 with the dedup key; Slack 200 "ok".
        res.statusCode = format === 'pagerduty' ? 202 : 200;
        res.end(
          format === 'pagerduty'
            ? JSON.stringify({ status: 'success', dedup_key: accepted.dedup_key })
            : 'ok',
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/${this.format}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
