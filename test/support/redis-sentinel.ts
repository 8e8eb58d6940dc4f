import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '@redis-streams-alerts/nestjs-redis-streams/testing';
import { pollUntil, redisCommand, RedisNodeProcess } from './redis-node.js';

export interface TestRedisSentinelOptions {
  /** Master name, as in `sentinel monitor <name> ...`. */
  name?: string;
  /** How long a master may be silent before a Sentinel considers it down. */
  downAfterMs?: number;
  failoverTimeoutMs?: number;
  /** Longest wait for the Sentinels to agree on the master and to know each other. */
  startTimeoutMs?: number;
}

const SENTINELS = 3;
/** Sentinels that must agree that the master is down. */
const QUORUM = 2;

/**
 * A throwaway master, one replica and three Sentinels on loopback, each a redis-server process on
 * a free port with its own folder (a Sentinel rewrites its config file, so it lives there too).
 */
export class TestRedisSentinel {
  private readonly data = new Map<number, RedisNodeProcess>();
  private readonly watchers = new Map<number, RedisNodeProcess>();
  private readonly dirs: string[] = [];
  private readonly clients = new Set<Redis>();
  /** How long `start` took, in ms. */
  startedInMs = 0;

  private constructor(
    readonly name: string,
    private readonly options: Required<TestRedisSentinelOptions>,
  ) {}

  static async start(options: TestRedisSentinelOptions = {}): Promise<TestRedisSentinel> {
    const settings: Required<TestRedisSentinelOptions> = {
      name: 'test-master',
      downAfterMs: 1_000,
      failoverTimeoutMs: 3_000,
      startTimeoutMs: 20_000,
      ...options,
    };
    const started = Date.now();
    const sentinel = new TestRedisSentinel(settings.name, settings);
    try {
      await sentinel.launch();
    } catch (error) {
      await sentinel.destroy();
      throw error;
    }
    sentinel.startedInMs = Date.now() - started;
    return sentinel;
  }

  /** Addresses of the Sentinels, as a client takes them. */
  get sentinels(): Array<{ host: string; port: number }> {
    return [...this.watchers.keys()].map((port) => ({ host: '127.0.0.1', port }));
  }

  /** `host:port,host:port,...`, as REDIS_SENTINELS takes it. */
  get sentinelList(): string {
    return this.sentinels.map(({ host, port }) => `${host}:${port}`).join(',');
  }

  /** Ports of the master and the replica as started (which is master changes on failover). */
  get dataPorts(): number[] {
    return [...this.data.keys()];
  }

  /** The master's port, as the first Sentinel that answers names it. */
  async masterPort(): Promise<number> {
    let last: unknown;
    for (const port of this.watchers.keys()) {
      if (!this.watchers.get(port)!.running) continue;
      try {
        const [, masterPort] = (await redisCommand(port, [
          'SENTINEL',
          'GET-MASTER-ADDR-BY-NAME',
          this.name,
        ])) as [string, string];
        return Number(masterPort);
      } catch (error) {
        last = error;
      }
    }
    throw new Error(`no Sentinel named the master: ${String(last)}`);
  }

  /** SIGKILL of the current master; returns its port. */
  async killMaster(): Promise<number> {
    const port = await this.masterPort();
    const node = this.data.get(port);
    if (!node) throw new Error(`the master on port ${port} is not one of this setup's servers`);
    await node.kill();
    return port;
  }

  /**
   * Waits until every Sentinel names a master other than `oldPort` and that server says it is a
   * master; returns its port.
   */
  async waitForNewMaster(oldPort: number, timeoutMs: number): Promise<number> {
    return pollUntil(
      async () => {
        const named = new Set<number>();
        for (const port of this.watchers.keys()) {
          const [, masterPort] = (await redisCommand(port, [
            'SENTINEL',
            'GET-MASTER-ADDR-BY-NAME',
            this.name,
          ])) as [string, string];
          named.add(Number(masterPort));
        }
        if (named.size !== 1 || named.has(oldPort)) {
          throw new Error(`Sentinels name ${[...named].join(', ')}`);
        }
        const [port] = [...named];
        const [role] = (await redisCommand(port, ['ROLE'])) as [string];
        if (role !== 'master') throw new Error(`${port} is still a ${role}`);
        return port;
      },
      `the Sentinels to promote a new master in place of ${oldPort}`,
      timeoutMs,
    );
  }

  /** A client that follows the master through the Sentinels; closed by `destroy`. */
  client(): Redis {
    const client = new Redis({
      sentinels: this.sentinels,
      name: this.name,
      retryStrategy: () => 100,
      maxRetriesPerRequest: null,
    });
    client.on('error', () => undefined);
    this.clients.add(client);
    return client;
  }

  /** Kills every server and deletes their folders; safe to call twice. */
  async destroy(): Promise<void> {
    for (const client of this.clients) client.disconnect();
    this.clients.clear();
    const all = [...this.watchers.values(), ...this.data.values()];
    await Promise.all(all.map((node) => node.kill()));
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    const masterPort = await freePort();
    await this.startData(masterPort, []);
    const replicaPort = await freePort();
    await this.startData(replicaPort, ['--replicaof', '127.0.0.1', String(masterPort)]);
    await pollUntil(
      async () => {
        const role = (await redisCommand(replicaPort, ['ROLE'])) as unknown[];
        if (role[3] !== 'connected') throw new Error(`replica is ${String(role[3])}`);
        return true;
      },
      'the replica to finish its first sync',
      this.options.startTimeoutMs,
    );
    const ports: number[] = [];
    for (let i = 0; i < SENTINELS; i++) ports.push(await freePort());
    await Promise.all(ports.map((port) => this.startSentinel(port, masterPort)));
    // Sentinels find the replica and each other through the master (hello messages every 2 s);
    // a failover needs the quorum and a majority of Sentinels that know each other.
    await pollUntil(
      async () => {
        for (const port of ports) await this.assertSentinelReady(port, masterPort);
        return true;
      },
      'every Sentinel to know the master, its replica and the other Sentinels',
      this.options.startTimeoutMs,
    );
  }

  private async assertSentinelReady(port: number, masterPort: number): Promise<void> {
    const [, named] = (await redisCommand(port, [
      'SENTINEL',
      'GET-MASTER-ADDR-BY-NAME',
      this.name,
    ])) as [string, string];
    if (Number(named) !== masterPort) throw new Error(`Sentinel ${port} names ${named}`);
    const replicas = (await redisCommand(port, ['SENTINEL', 'REPLICAS', this.name])) as unknown[];
    if (replicas.length < 1) throw new Error(`Sentinel ${port} knows no replica yet`);
    const others = (await redisCommand(port, ['SENTINEL', 'SENTINELS', this.name])) as unknown[];
    if (others.length < SENTINELS - 1) {
      throw new Error(`Sentinel ${port} knows ${others.length} other Sentinels`);
    }
  }

  private async startData(port: number, extra: string[]): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), `test-redis-sentinel-data-${port}-`));
    this.dirs.push(dir);
    const node = await RedisNodeProcess.start(port, [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--save',
      '',
      '--repl-diskless-sync-delay',
      '0',
      '--loglevel',
      'warning',
      ...extra,
    ]);
    this.data.set(port, node);
  }

  private async startSentinel(port: number, masterPort: number): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), `test-redis-sentinel-${port}-`));
    this.dirs.push(dir);
    const config = join(dir, 'sentinel.conf');
    const { name, downAfterMs, failoverTimeoutMs } = this.options;
    writeFileSync(
      config,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        'loglevel warning',
        `sentinel monitor ${name} 127.0.0.1 ${masterPort} ${QUORUM}`,
        `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
        `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    const node = await RedisNodeProcess.start(port, [config, '--sentinel']);
    this.watchers.set(port, node);
  }
}
