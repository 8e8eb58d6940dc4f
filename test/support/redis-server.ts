import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { generateTlsCertificates, type TlsCertificates } from './tls-certs.js';

/** Finds a TCP port that is free on the loopback interface right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface TestRedisOptions {
  /** Extra `redis-server` arguments, e.g. `['--appendfsync', 'always']`. */
  args?: string[];
  /** Append-only persistence; on by default so that a restart keeps the data. */
  appendOnly?: boolean;
  /** Lines of an ACL file (`user … on >password …`), so that its users survive a restart. */
  aclUsers?: string[];
  /** TLS only (no plain port), with a certificate of a throwaway CA; clients need `tls.caFile`. */
  tls?: boolean;
}

/**
 * A throwaway redis-server on a free port with its own data folder. It can be stopped, killed and
 * started again on the same port and folder, so tests can break Redis on purpose.
 */
export class TestRedis {
  readonly dir: string;
  /** The CA, certificate and key it serves TLS with (option `tls`). */
  readonly tls?: TlsCertificates;
  private child?: ChildProcess;

  private constructor(
    readonly port: number,
    private readonly options: TestRedisOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'test-redis-'));
    if (options.tls) this.tls = generateTlsCertificates();
    if (options.aclUsers) writeFileSync(this.aclFile, [...options.aclUsers, ''].join('\n'));
  }

  static async start(options: TestRedisOptions = {}): Promise<TestRedis> {
    const redis = new TestRedis(await freePort(), options);
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `${this.tls ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`;
  }

  /** `url` with the credentials of an ACL user. */
  urlAs(username: string, password: string): string {
    return this.url.replace('://', `://${username}:${password}@`);
  }

  get running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  /** A new ioredis client for assertions (over TLS when the server speaks it); the caller closes it. */
  client(options: RedisOptions = {}): Redis {
    return new Redis({ ...this.connection(), maxRetriesPerRequest: 1, ...options });
  }

  /** Starts (again) on the same port and data folder and waits until it answers PING. */
  async restart(): Promise<void> {
    if (this.running) return;
    const appendOnly = this.options.appendOnly ?? true;
    const args = [
      ...this.listenArgs(),
      ...(this.options.aclUsers ? ['--aclfile', this.aclFile] : []),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      appendOnly ? 'yes' : 'no',
      '--enable-debug-command',
      'local',
      '--loglevel',
      'warning',
      ...(this.options.args ?? []),
    ];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`redis-server exited at start: ${stderr}`);
      if (await this.answersPing()) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`redis-server on port ${this.port} did not answer within 10 s`);
  }

  /** SIGKILL, as in a crash: nothing is flushed beyond what the append-only file already has. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGSTOP: the server freezes with every connection open, until `thaw()`. */
  freeze(): void {
    if (this.running) this.child!.kill('SIGSTOP');
  }

  /** SIGCONT after `freeze()`. */
  thaw(): void {
    if (this.running) this.child!.kill('SIGCONT');
  }

  /** Stops it the polite way (SIGTERM). */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** Stops it and deletes its data folder (and its TLS keys). */
  async destroy(): Promise<void> {
    await this.signal('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
    this.tls?.remove();
  }

  private get aclFile(): string {
    return join(this.dir, 'users.acl');
  }

  /** A TLS server listens on the TLS port only (`--port 0`) and asks clients for no certificate. */
  private listenArgs(): string[] {
    if (!this.tls) return ['--port', String(this.port)];
    return [
      '--port',
      '0',
      '--tls-port',
      String(this.port),
      '--tls-cert-file',
      this.tls.certFile,
      '--tls-key-file',
      this.tls.keyFile,
      '--tls-ca-cert-file',
      this.tls.caFile,
      '--tls-auth-clients',
      'no',
    ];
  }

  /** Where and how to connect: the port, and the CA to trust when the server speaks TLS. */
  private connection(): RedisOptions {
    const tls = this.tls ? { tls: { ca: readFileSync(this.tls.caFile) } } : {};
    return { host: '127.0.0.1', port: this.port, ...tls };
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  private async answersPing(): Promise<boolean> {
    const probe = new Redis({
      ...this.connection(),
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
