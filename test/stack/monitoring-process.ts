import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { waitFor } from '../support/wait-for.js';

/**
 * A Prometheus or Alertmanager binary (Debian's packages: `.ci/run` installs them) run as a child
 * process on loopback, with its output kept for failure messages, until `close()` kills it.
 */
export class MonitoringProcess {
  private output = '';
  private readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    readonly url: string,
    private readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Starts `binary args` and waits until `<url>/-/ready` answers 200, or fails with its output. */
  static async start(
    binary: string,
    args: string[],
    url: string,
    readyTimeoutMs = 20_000,
  ): Promise<MonitoringProcess> {
    assertInstalled(binary);
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const started = new MonitoringProcess(binary, url, child);
    try {
      await waitFor(
        async () => {
          if (!started.running) throw new Error(`${binary} exited`);
          const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
          await response.arrayBuffer();
          return response.status === 200;
        },
        `${binary} to be ready`,
        readyTimeoutMs,
        100,
      );
    } catch (error) {
      await started.close();
      throw new Error(`${(error as Error).message}\n${started.log()}`, { cause: error });
    }
    return started;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  log(): string {
    return `--- ${this.name} ---\n${this.output.slice(-20_000)}`;
  }

  /** SIGTERM, then SIGKILL if it has not exited within 5 s. */
  async close(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}

function assertInstalled(binary: string): void {
  const found = spawnSync(binary, ['--version'], { stdio: 'ignore' });
  if (found.error) {
    throw new Error(
      `${binary} is not installed: apt-get install prometheus prometheus-alertmanager (.ci/run does)`,
    );
  }
}
