import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { CLIENT_DEFAULTS } from './client-defaults.js';
import { freePort } from './free-port.js';
import type { RedisForTests } from './redis-for-tests.interface.js';

/** PEM files a TLS-only server is started with. */
export interface TestRedisTls {
  certFile: string;
  keyFile: string;
  /** The CA that signed `certFile`: clients trust it (`client()` does). */
  caFile: string;
}

export interface TestRedisOptions {
  /** Extra `redis-server` arguments, e.g. `['--maxmemory', '10mb']`. */
  args?: string[];
  /** Append-only persistence, so that a restart (after `kill()` or `stop()`) keeps the data; off by default. */
  appendOnly?: boolean;
  /** Lines of an ACL file (`user … on >password …`), so that its users survive a restart. */
  aclUsers?: string[];
  /** Serve TLS only (no plain port) with these files; `url` is then `rediss://`. */
  tls?: TestRedisTls;
  /** Longest wait for the server to answer PING at start. */
  startTimeoutMs?: number;
}

/** How much of the server's own output is kept for error messages. */
const OUTPUT_TAIL_CHARS = 4_000;
const START_TIMEOUT_MS = 10_000;
const PING_INTERVAL_MS = 25;

/** Servers started here and not stopped yet: killed when the test process exits, so none is left behind. */
const alive = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * A throwaway redis-server of a test's own, on a free loopback port with its own temporary folder
 * and no persistence unless asked. Tests can break it on purpose: stop, kill, freeze, and start it
 * again on the same port and folder. `close()` kills it and deletes the folder.
 */
export class TestRedis implements RedisForTests {
  readonly owned = true;
  /** Its data folder (append-only file, ACL file), deleted by `close()`. */
  readonly dir: string;
  private child?: ChildProcess;

  private constructor(
    readonly port: number,
    private readonly options: TestRedisOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'test-redis-'));
    if (options.aclUsers) writeFileSync(this.aclFile, [...options.aclUsers, ''].join('\n'));
  }

  /**
   * Starts `redis-server` (found on PATH) and resolves once it answers PING. Fails with what to
   * install when there is no redis-server.
   */
  static async start(options: TestRedisOptions = {}): Promise<TestRedis> {
    const redis = new TestRedis(await freePort(), options);
    try {
      await redis.restart();
    } catch (error) {
      rmSync(redis.dir, { recursive: true, force: true });
      throw error;
    }
    return redis;
  }

  get url(): string {
    return `${this.options.tls ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`;
  }

  /** The TLS files it serves with (option `tls`). */
  get tls(): TestRedisTls | undefined {
    return this.options.tls;
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

  /** A new ioredis client (over TLS when the server speaks it); the caller closes it. */
  client(options: RedisOptions = {}): Redis {
    return new Redis({ ...this.connection(), ...CLIENT_DEFAULTS, ...options });
  }

  /** A server of its own holds nothing else: `reset` flushes all of it, so nothing is tracked. */
  track(): void {}

  /** Deletes every key (FLUSHALL). */
  async reset(): Promise<void> {
    const client = this.client({ maxRetriesPerRequest: 0 });
    try {
      await client.flushall();
    } finally {
      client.disconnect();
    }
  }

  /** Starts (again) on the same port and data folder and waits until it answers PING. */
  async restart(): Promise<void> {
    if (this.running) return;
    // `env` as the test sees it (Jest gives tests a copy of process.env): its PATH finds the binary.
    const child = spawn('redis-server', this.serverArgs(), {
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    watch(child);
    let output = '';
    let spawnError: NodeJS.ErrnoException | undefined;
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('error', (error) => (spawnError = error));
    const timeoutMs = this.options.startTimeoutMs ?? START_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (spawnError) throw notStarted(spawnError);
      if (!this.running) throw new Error(`redis-server exited at start: ${output.trim()}`);
      if (await this.answersPing()) return;
      await new Promise((resolve) => setTimeout(resolve, PING_INTERVAL_MS));
    }
    await this.signal('SIGKILL');
    throw new Error(
      `redis-server on port ${this.port} did not answer within ${timeoutMs} ms: ${output.trim()}`,
    );
  }

  /** SIGKILL, as in a crash: nothing is kept beyond what the append-only file already has. */
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

  /** Stops it the polite way (SIGTERM); `restart()` brings it back on the same port. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** Kills it and deletes its data folder. */
  async close(): Promise<void> {
    this.thaw();
    await this.signal('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  private get aclFile(): string {
    return join(this.dir, 'users.acl');
  }

  private serverArgs(): string[] {
    return [
      ...this.listenArgs(),
      ...(this.options.aclUsers ? ['--aclfile', this.aclFile] : []),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      this.options.appendOnly ? 'yes' : 'no',
      '--enable-debug-command',
      'local',
      '--loglevel',
      'warning',
      ...(this.options.args ?? []),
    ];
  }

  /** A TLS server listens on the TLS port only (`--port 0`) and asks clients for no certificate. */
  private listenArgs(): string[] {
    const { tls } = this.options;
    if (!tls) return ['--port', String(this.port)];
    return [
      '--port',
      '0',
      '--tls-port',
      String(this.port),
      '--tls-cert-file',
      tls.certFile,
      '--tls-key-file',
      tls.keyFile,
      '--tls-ca-cert-file',
      tls.caFile,
      '--tls-auth-clients',
      'no',
    ];
  }

  /** Where and how to connect: the port, and the CA to trust when the server speaks TLS. */
  private connection(): RedisOptions {
    const { tls } = this.options;
    return {
      host: '127.0.0.1',
      port: this.port,
      ...(tls && { tls: { ca: readFileSync(tls.caFile) } }),
    };
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
      disconnectTimeout: 0,
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

/** Kills `child` when the test process exits, unless it ended before. */
function watch(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const each of alive) each.kill('SIGKILL');
    });
  }
  alive.add(child);
  child.once('exit', () => alive.delete(child));
  child.once('error', () => alive.delete(child));
}

/** Why redis-server did not start, and for a missing binary, what to install. */
function notStarted(error: NodeJS.ErrnoException): Error {
  if (error.code !== 'ENOENT') return new Error(`redis-server could not start: ${error.message}`);
  return new Error(
    'redis-server was not found on PATH. The tests start a throwaway Redis 7 of their own: install ' +
      'it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis; or ' +
      'https://redis.io/docs/latest/operate/oss_and_stack/install/), or set REDIS_URL to a Redis ' +
      'the tests may write to (startTestRedis() then uses it).',
    { cause: error },
  );
}
