import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './redis-server.js';
import type { TlsCertificates } from './tls-certs.js';

/**
 * A throwaway redis-server that speaks only TLS (`--port 0 --tls-port P`), without asking clients
 * for a certificate. `TestRedis` checks readiness over plain TCP, so it cannot start this one.
 */
export class TlsTestRedis {
  readonly dir: string;
  private child?: ChildProcess;

  private constructor(
    readonly port: number,
    private readonly certs: TlsCertificates,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'test-redis-tls-'));
  }

  static async start(certs: TlsCertificates): Promise<TlsTestRedis> {
    const redis = new TlsTestRedis(await freePort(), certs);
    await redis.launch();
    return redis;
  }

  /** The URL without any CA: TLS is on, but the server certificate cannot be verified. */
  get url(): string {
    return `rediss://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  /** A TLS client that trusts the test CA, for assertions; the caller closes it. */
  client(): Redis {
    return new Redis(this.url, {
      tls: { ca: readFileSync(this.certs.caFile) },
      maxRetriesPerRequest: 1,
    });
  }

  async destroy(): Promise<void> {
    const child = this.child;
    if (child && this.running) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        '0',
        '--tls-port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--tls-cert-file',
        this.certs.certFile,
        '--tls-key-file',
        this.certs.keyFile,
        '--tls-ca-cert-file',
        this.certs.caFile,
        '--tls-auth-clients',
        'no',
        '--dir',
        this.dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--loglevel',
        'warning',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`redis-server (TLS) exited at start: ${stderr}`);
      if (await this.answersPing()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.destroy();
    throw new Error(`redis-server (TLS) on port ${this.port} did not answer within 10 s`);
  }

  private async answersPing(): Promise<boolean> {
    const probe = new Redis(this.url, {
      tls: { ca: readFileSync(this.certs.caFile) },
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 1_000,
      enableOfflineQueue: false,
    });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      probe.disconnect();
    }
  }
}
