import { MAIN_JS, MainProcess, type Exit } from './main-process.js';
import { freePort } from '@redis-streams-alerts/nestjs-redis-streams/testing';
import { sleep } from './wait-for.js';

/** Where an instance is in its life, as the test drove it. */
export type ServiceState = 'running' | 'stopped' | 'killed' | 'exited';

export interface HttpResult {
  status: number;
  body: Record<string, unknown>;
  ms: number;
}

/**
 * One instance of the built service (`node dist/main.js`) on its own free port, with a stable
 * CONSUMER_NAME, configured by environment only. It can be killed (-9), frozen (SIGSTOP), thawed,
 * asked to stop (SIGTERM) and started again under the same name and port, as an orchestrator would.
 */
export class ServiceProcess {
  state: ServiceState = 'running';
  /** How many processes this instance has been (1 + restarts). */
  lives = 1;
  /** Output of earlier lives of this instance (before restarts). */
  private history = '';
  private stderrHistory = '';

  private constructor(
    readonly consumerName: string,
    readonly port: number,
    private readonly env: Record<string, string>,
    private main: MainProcess,
    private readonly script: string,
  ) {}

  /**
   * Starts an instance and waits until /health/ready answers 200 (or fails with its output).
   * `script`: another built entry point that reads CONSUMER_NAME and PORT and serves /health/ready.
   */
  static async start(
    consumerName: string,
    env: Record<string, string>,
    readyTimeoutMs = 15_000,
    script = MAIN_JS,
  ): Promise<ServiceProcess> {
    const port = await freePort();
    const fullEnv = { ...env, CONSUMER_NAME: consumerName, PORT: String(port) };
    const main = MainProcess.start(fullEnv, script);
    const service = new ServiceProcess(consumerName, port, fullEnv, main, script);
    try {
      await service.waitReady(readyTimeoutMs);
    } catch (error) {
      await service.dispose();
      throw error;
    }
    return service;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.main.child.pid;
  }

  get running(): boolean {
    return this.main.running;
  }

  /** Resolves with the exit of the current process. */
  get exited(): Promise<Exit> {
    return this.main.exited;
  }

  /** Polls /health/ready until 200; fails early if the process exits. */
  async waitReady(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.main.running) {
        throw new Error(`${this.consumerName} exited while starting\n${this.output()}`);
      }
      if ((await this.readiness(1_000)) === 200) return;
      await sleep(50);
    }
    throw new Error(`${this.consumerName} was not ready within ${timeoutMs} ms\n${this.output()}`);
  }

  /** Status of /health/ready, or 0 when there was no answer within `timeoutMs`. */
  async readiness(timeoutMs = 2_000): Promise<number> {
    try {
      const response = await fetch(`${this.url}/health/ready`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.arrayBuffer();
      return response.status;
    } catch {
      return 0;
    }
  }

  /** POST /alerts; status 0 means no answer at all (refused, reset or over `timeoutMs`). */
  async postAlert(
    alert: Record<string, unknown>,
    idempotencyKey: string | undefined,
    timeoutMs: number,
  ): Promise<HttpResult> {
    const started = Date.now();
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
    try {
      const response = await fetch(`${this.url}/alerts`, {
        method: 'POST',
        headers,
        body: JSON.stringify(alert),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.text();
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        body = { text };
      }
      return { status: response.status, body, ms: Date.now() - started };
    } catch (error) {
      return { status: 0, body: { error: String(error) }, ms: Date.now() - started };
    }
  }

  /** kill -9: no shutdown at all; whatever it was doing stays pending in Redis. */
  async kill9(): Promise<void> {
    this.state = 'killed';
    await this.main.kill();
  }

  /** SIGSTOP: the process freezes with its connections open. */
  freeze(): void {
    this.state = 'stopped';
    this.main.child.kill('SIGSTOP');
  }

  /** SIGCONT after `freeze()`. */
  thaw(): void {
    this.main.child.kill('SIGCONT');
    this.state = 'running';
  }

  /** SIGTERM, then waits for the exit (killing it after `timeoutMs`); resolves with the exit and its delay. */
  async terminate(timeoutMs: number): Promise<Exit & { ms: number }> {
    const started = Date.now();
    this.state = 'exited';
    this.main.child.kill('SIGTERM');
    const exit = await this.main.exit(timeoutMs);
    return { ...exit, ms: Date.now() - started };
  }

  /** Starts it again with the same CONSUMER_NAME, port and environment, and waits until ready. */
  async restart(readyTimeoutMs = 15_000): Promise<void> {
    if (this.main.running) throw new Error(`${this.consumerName} still runs`);
    this.history += this.main.output();
    this.stderrHistory += this.main.stderr;
    this.main = MainProcess.start(this.env, this.script);
    this.lives += 1;
    this.state = 'running';
    await this.waitReady(readyTimeoutMs);
  }

  /** Kills it whatever its state (a frozen process dies on SIGKILL too); for afterAll. */
  async dispose(): Promise<void> {
    if (this.main.running) {
      this.main.child.kill('SIGCONT');
      await this.main.kill();
    }
    this.state = 'killed';
  }

  output(): string {
    return `=== ${this.consumerName} (port ${this.port}) ===\n${this.history}${this.main.output()}`;
  }

  /** What every life of this instance wrote to stderr. */
  stderr(): string {
    return this.stderrHistory + this.main.stderr;
  }
}
