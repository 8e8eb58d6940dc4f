import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny Prometheus exporter whose gauges the test sets: Prometheus scrapes it, and a rule fires
 * when the test flips a value.
 */
export class ControlledExporter {
  /** Exposition line (`name{labels}`) to value. */
  private readonly values = new Map<string, number>();
  scrapes = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<ControlledExporter> {
    const server = createServer();
    const exporter = new ControlledExporter(server);
    server.on('request', (req, res) => {
      exporter.scrapes += 1;
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end(exporter.exposition());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return exporter;
  }

  get target(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  set(name: string, labels: Record<string, string>, value: number): void {
    const pairs = Object.entries(labels).map(([key, v]) => `${key}="${v}"`);
    this.values.set(pairs.length > 0 ? `${name}{${pairs.join(',')}}` : name, value);
  }

  private exposition(): string {
    const names = new Set([...this.values.keys()].map((series) => series.split('{')[0]));
    const lines: string[] = [];
    for (const name of names) {
      lines.push(`# TYPE ${name} gauge`);
      for (const [series, value] of this.values) {
        if (series.split('{')[0] === name) lines.push(`${series} ${value}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
