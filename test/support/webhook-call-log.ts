import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PRELOAD = fileURLToPath(new URL('./webhook-call-log.preload.mjs', import.meta.url));

/** One webhook call a service process started, whether or not it reached the receiver. */
export interface StartedCall {
  at: number;
  consumer: string;
}

/**
 * The webhook calls that service processes start, seen from their side: each process started with
 * `env` loads a preload module that logs every request to `origin` into one file. Unlike the
 * receiver's own records, this counts the calls that found the receiver down (connection refused).
 */
export class WebhookCallLog {
  private readonly dir = mkdtempSync(join(tmpdir(), 'webhook-calls-'));
  private readonly file = join(this.dir, 'calls.log');

  constructor(private readonly origin: string) {}

  /** Environment variables that make a service process log its webhook calls here. */
  get env(): Record<string, string> {
    return {
      NODE_OPTIONS: `--import=${PRELOAD}`,
      WEBHOOK_CALL_LOG: this.file,
      WEBHOOK_CALL_LOG_ORIGIN: this.origin,
    };
  }

  /** Every call logged so far, oldest first. */
  calls(): StartedCall[] {
    if (!existsSync(this.file)) return [];
    return readFileSync(this.file, 'utf8')
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => {
        const [at, consumer] = line.split(' ');
        return { at: Number(at), consumer };
      })
      .sort((a, b) => a.at - b.at);
  }

  /** Calls started within [from, to). */
  between(from: number, to: number): StartedCall[] {
    return this.calls().filter((call) => call.at >= from && call.at < to);
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
