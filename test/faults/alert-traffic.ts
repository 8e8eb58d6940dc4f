import type { Redis } from 'ioredis';
import type { ServiceProcess } from '../support/service-process.js';
import { sleep } from '../support/wait-for.js';

/** An alert the system confirmed: a 202 from the API, or a reply to a direct XADD. */
export interface AcceptedAlert {
  key: string;
  /** The stream entry id Redis confirmed. */
  entryId: string;
  via: 'http' | 'xadd';
  at: number;
}

export interface HttpTrafficOptions {
  /** Requests in flight at once. */
  workers?: number;
  /** Pause of each worker between two requests. */
  pauseMs?: number;
  /** A request with no answer after this long counts as hung (status 0). */
  timeoutMs?: number;
}

/** Worst answer time seen per HTTP status; 0 stands for no answer (refused, reset, timed out). */
export type LatencyByStatus = Map<number, { count: number; maxMs: number }>;

/**
 * Publishes alerts the two ways producers do (POST /alerts and a plain XADD) and keeps the set of
 * alerts that were accepted, keyed by eventId, which is what the webhook's Idempotency-Key carries.
 * HTTP alerts get an Idempotency-Key of their own so the key is known before the answer; direct
 * XADDs carry an `eventId` field, except every fourth, whose eventId is then its entry id.
 */
export class AlertTraffic {
  readonly accepted = new Map<string, AcceptedAlert>();
  readonly http: LatencyByStatus = new Map();
  xaddSent = 0;
  xaddFailed = 0;
  private seq = 0;
  private rotation = 0;
  private stopped = false;
  private readonly loops: Array<Promise<void>> = [];

  constructor(private readonly prefix: string) {}

  /** POSTs one alert to the given instance. */
  async postOne(service: ServiceProcess, timeoutMs = 8_000): Promise<number> {
    const key = `${this.prefix}-h${++this.seq}`;
    const alert = {
      message: `fault test alert ${key}`,
      severity: 'warning',
      source: 'faults-http',
    };
    const result = await service.postAlert(alert, key, timeoutMs);
    const seen = this.http.get(result.status) ?? { count: 0, maxMs: 0 };
    this.http.set(result.status, {
      count: seen.count + 1,
      maxMs: Math.max(seen.maxMs, result.ms),
    });
    if (result.status === 202) {
      const eventId = String(result.body.eventId);
      const entryId = String(result.body.id);
      this.accepted.set(eventId, { key: eventId, entryId, via: 'http', at: Date.now() });
    }
    return result.status;
  }

  /** One direct XADD; accepted only once Redis replied with the entry id. */
  async xaddOne(client: Redis, extra: string[] = []): Promise<string | undefined> {
    const n = ++this.seq;
    const withEventId = n % 4 !== 0;
    const key = `${this.prefix}-x${n}`;
    const fields = [
      ...(withEventId ? ['eventId', key] : []),
      'message',
      `fault test alert ${key}`,
      'severity',
      'info',
      'source',
      'faults-xadd',
      ...extra,
    ];
    this.xaddSent += 1;
    try {
      const id = await client.xadd('alerts', '*', ...fields);
      if (!id) throw new Error('no id');
      const eventId = withEventId ? key : id;
      this.accepted.set(eventId, { key: eventId, entryId: id, via: 'xadd', at: Date.now() });
      return eventId;
    } catch {
      this.xaddFailed += 1;
      return undefined;
    }
  }

  /** Keeps POSTing round-robin to the instances `targets()` returns, until `stop()`. */
  startHttp(targets: () => ServiceProcess[], options: HttpTrafficOptions = {}): void {
    const { workers = 2, pauseMs = 20, timeoutMs = 8_000 } = options;
    for (let w = 0; w < workers; w++) {
      this.loops.push(
        (async () => {
          while (!this.stopped) {
            const live = targets();
            if (live.length > 0) {
              await this.postOne(live[this.rotation++ % live.length], timeoutMs);
            }
            await sleep(pauseMs);
          }
        })(),
      );
    }
  }

  /** Keeps XADDing with `client` until `stop()`. */
  startXadd(client: Redis, options: { workers?: number; pauseMs?: number } = {}): void {
    const { workers = 1, pauseMs = 30 } = options;
    for (let w = 0; w < workers; w++) {
      this.loops.push(
        (async () => {
          while (!this.stopped) {
            await this.xaddOne(client);
            await sleep(pauseMs);
          }
        })(),
      );
    }
  }

  /** Stops the loops and waits for the requests in flight (each is bounded by its timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    this.loops.length = 0;
    this.stopped = false;
  }

  count(status: number): number {
    return this.http.get(status)?.count ?? 0;
  }

  /** e.g. "202×120 503×14 0×2" */
  describeHttp(): string {
    return [...this.http.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, { count, maxMs }]) => `${status}×${count} (max ${maxMs} ms)`)
      .join(', ');
  }
}
