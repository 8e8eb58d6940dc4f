import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PROCESS_MJS = fileURLToPath(new URL('./limited-receiver.process.mjs', import.meta.url));

/** Extra delay of every answer, in any mode. */
interface Latency {
  latencyMs?: number;
}

/** How the receiver answers from now on; see `LimitedReceiver.set`. */
export type ReceiverMode = Latency &
  (
    | { mode: 'healthy' }
    /** A token bucket: `perSecond` calls a second, bursts of `burst` (default `perSecond`), 429 beyond. */
    | { mode: 'rate-limited'; perSecond: number; burst?: number; retryAfterSeconds?: number }
    /** The webhook port is closed: callers get ECONNREFUSED. */
    | { mode: 'down' }
    | { mode: 'failing'; status?: number }
    /** `status` (default 500) for the alerts named, 202 for the rest. */
    | { mode: 'poison'; eventIds?: string[]; messageIncludes?: string; status?: number }
  );

/** One webhook call the receiver answered. */
export interface ReceivedCall {
  /** When its body had arrived (the receiver's clock: the same machine's). */
  at: number;
  /** The Idempotency-Key header: the alert's eventId. */
  key: string;
  /** The stream entry id from the body. */
  entryId: string;
  /** The alert's message from the body. */
  message: string;
  status: number;
  /** The mode it was answered in. */
  mode: ReceiverMode['mode'];
}

/**
 * A webhook receiver in a process of its own (`limited-receiver.process.mjs`) whose behaviour the
 * test switches at runtime: healthy, rate-limited (429 with `Retry-After`), down (connection
 * refused), failing (500 to everything) or poison (500 for some alerts only). It records every call
 * it answered; calls that found it down never reached it (see `WebhookCallLog` for those).
 */
export class LimitedReceiver {
  private readonly seen: ReceivedCall[] = [];

  private constructor(
    private readonly child: ChildProcess,
    readonly hookPort: number,
    readonly controlPort: number,
  ) {}

  static async start(mode: ReceiverMode = { mode: 'healthy' }): Promise<LimitedReceiver> {
    const child = spawn(process.execPath, [PROCESS_MJS], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ports = await new Promise<{ hookPort: number; controlPort: number }>(
      (resolve, reject) => {
        let stdout = '';
        const timer = setTimeout(() => fail(new Error('no ports within 10 s')), 10_000);
        const fail = (error: Error): void => {
          clearTimeout(timer);
          child.kill('SIGKILL');
          reject(new Error(`the limited receiver did not start: ${error.message}\n${stderr}`));
        };
        child.once('exit', (code) => fail(new Error(`it exited with ${code}`)));
        child.stdout?.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          const line = stdout.split('\n')[0];
          if (stdout.includes('\n')) {
            clearTimeout(timer);
            child.removeAllListeners('exit');
            resolve(JSON.parse(line) as { hookPort: number; controlPort: number });
          }
        });
      },
    );
    const receiver = new LimitedReceiver(child, ports.hookPort, ports.controlPort);
    await receiver.set(mode);
    return receiver;
  }

  /** What ALERTS_WEBHOOK_URL is set to. */
  get url(): string {
    return `${this.origin}/hook`;
  }

  /** Scheme, host and port of the webhook, as fetch names a request's origin. */
  get origin(): string {
    return `http://127.0.0.1:${this.hookPort}`;
  }

  /** Switches the behaviour; resolves once it applies (for `down`: once the port is closed). */
  async set(mode: ReceiverMode): Promise<void> {
    await this.control('PUT', '/mode', mode);
  }

  /** Every call answered so far, in arrival order. */
  async calls(): Promise<readonly ReceivedCall[]> {
    const { calls } = (await this.control('GET', `/calls?from=${this.seen.length}`)) as {
      calls: ReceivedCall[];
    };
    this.seen.push(...calls);
    return this.seen;
  }

  /** eventId → when the receiver first answered a call for it with a 2xx. */
  async delivered(): Promise<Map<string, number>> {
    const first = new Map<string, number>();
    for (const call of await this.calls()) {
      if (call.status >= 200 && call.status < 300 && !first.has(call.key)) {
        first.set(call.key, call.at);
      }
    }
    return first;
  }

  /** Calls answered 429: refused by the rate limit. */
  async refused(): Promise<number> {
    return (await this.calls()).filter((call) => call.status === 429).length;
  }

  /** Calls that arrived within [from, to). */
  async callsBetween(from: number, to: number): Promise<ReceivedCall[]> {
    return (await this.calls()).filter((call) => call.at >= from && call.at < to);
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(timer);
  }

  private async control(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`http://127.0.0.1:${this.controlPort}${path}`, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const value: unknown = await response.json();
    if (!response.ok) throw new Error(`receiver ${method} ${path}: ${JSON.stringify(value)}`);
    return value;
  }
}
