import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { freeClusterPort, pollUntil, redisCommand, RedisNodeProcess } from './redis-node.js';

const run = promisify(execFile);

export interface TestRedisClusterOptions {
  /** At least 3, as `redis-cli --cluster create` wants. */
  masters?: number;
  replicasPerMaster?: number;
  /** `cluster-node-timeout`: how long a master may be silent before its replica takes over. */
  nodeTimeoutMs?: number;
  /** Longest wait for the cluster to form. */
  startTimeoutMs?: number;
}

/** One line of `CLUSTER SLOTS`: a range and its master's address first. */
type SlotRange = [number, number, [string, number, ...unknown[]], ...unknown[]];

/**
 * A throwaway Redis Cluster on loopback: masters and replicas as redis-server processes on free
 * ports (their bus ports, port + 10000, free too), each with its own data folder and append-only
 * file. Which node is a master changes between runs: ask `masters()`, `replicaOf()` and
 * `masterForKey()` rather than assuming.
 */
export class TestRedisCluster {
  private readonly nodes = new Map<number, RedisNodeProcess>();
  private readonly dirs = new Map<number, string>();
  private readonly clients = new Set<Cluster>();
  /** One slot of each master killed through `kill`, to find who serves it afterwards. */
  private readonly slotOfKilled = new Map<number, number>();
  /** How long `start` took, in ms. */
  startedInMs = 0;

  private constructor(
    readonly ports: readonly number[],
    private readonly options: Required<TestRedisClusterOptions>,
  ) {}

  static async start(options: TestRedisClusterOptions = {}): Promise<TestRedisCluster> {
    const settings: Required<TestRedisClusterOptions> = {
      masters: 3,
      replicasPerMaster: 1,
      nodeTimeoutMs: 2_000,
      startTimeoutMs: 30_000,
      ...options,
    };
    if (settings.masters < 3) throw new Error('a Redis Cluster needs at least 3 masters');
    const started = Date.now();
    const taken = new Set<number>();
    const ports: number[] = [];
    const count = settings.masters * (1 + settings.replicasPerMaster);
    for (let i = 0; i < count; i++) ports.push(await freeClusterPort(taken));
    const cluster = new TestRedisCluster(ports, settings);
    try {
      await cluster.launch();
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
    cluster.startedInMs = Date.now() - started;
    return cluster;
  }

  /** Addresses to give a Cluster client; it discovers the rest. */
  get startupNodes(): Array<{ host: string; port: number }> {
    return this.ports.map((port) => ({ host: '127.0.0.1', port }));
  }

  /** `host:port,host:port,...`, as REDIS_CLUSTER_NODES takes it. */
  get nodeList(): string {
    return this.ports.map((port) => `127.0.0.1:${port}`).join(',');
  }

  /** Whether the node on `port` runs (it was not killed). */
  running(port: number): boolean {
    return this.nodes.get(port)?.running ?? false;
  }

  /** Ports of the running nodes that are masters now, by ROLE. */
  async masters(): Promise<number[]> {
    const roles = await Promise.all(
      this.alivePorts().map(async (port) => ({ port, role: await this.role(port) })),
    );
    return roles.filter(({ role }) => role[0] === 'master').map(({ port }) => port);
  }

  /** Port of a running replica of the master on `masterPort`, by ROLE; fails when there is none. */
  async replicaOf(masterPort: number): Promise<number> {
    for (const port of this.alivePorts()) {
      const role = await this.role(port);
      if (role[0] === 'slave' && Number(role[2]) === masterPort) return port;
    }
    throw new Error(`no running replica of the master on port ${masterPort}`);
  }

  /** Port of the master that serves `key` now (CLUSTER KEYSLOT, then CLUSTER SLOTS). */
  async masterForKey(key: string): Promise<number> {
    const asked = this.anyAlivePort();
    const slot = Number(await redisCommand(asked, ['CLUSTER', 'KEYSLOT', key]));
    return this.masterOfSlot(asked, slot);
  }

  /** SIGKILL of one node, as in a crash. */
  async kill(port: number): Promise<void> {
    const node = this.nodes.get(port);
    if (!node) throw new Error(`no node of this cluster on port ${port}`);
    // Remember a slot of a master before it goes, to see who serves it after the failover.
    const slots = (await redisCommand(this.anyAlivePort(), ['CLUSTER', 'SLOTS'])) as SlotRange[];
    const owned = slots.find((range) => Number(range[2][1]) === port);
    if (owned) this.slotOfKilled.set(port, Number(owned[0]));
    await node.kill();
  }

  /**
   * Waits until another node serves the slots of the master killed on `deadMasterPort` and every
   * running node reports `cluster_state:ok`; returns the new master's port.
   */
  async waitForPromotion(deadMasterPort: number, timeoutMs: number): Promise<number> {
    const slot = this.slotOfKilled.get(deadMasterPort);
    if (slot === undefined) {
      throw new Error(`the node on port ${deadMasterPort} was not a master killed through kill()`);
    }
    return pollUntil(
      async () => {
        const port = await this.masterOfSlot(this.anyAlivePort(), slot);
        if (port === deadMasterPort) throw new Error(`slot ${slot} is still on the dead master`);
        const role = await this.role(port);
        if (role[0] !== 'master') throw new Error(`node ${port} is not a master yet`);
        await this.assertAllOk();
        return port;
      },
      `a replica of ${deadMasterPort} to be promoted and the cluster to be ok`,
      timeoutMs,
    );
  }

  /** An ioredis Cluster client for assertions that waits through a failover; closed by `destroy`. */
  client(): Cluster {
    const client = new Cluster(this.startupNodes, {
      retryDelayOnFailover: 200,
      maxRedirections: 50,
      redisOptions: { maxRetriesPerRequest: 1 },
    });
    client.on('error', () => undefined);
    this.clients.add(client);
    return client;
  }

  /** Kills every node and deletes their folders; safe to call twice. */
  async destroy(): Promise<void> {
    for (const client of this.clients) client.disconnect();
    this.clients.clear();
    await Promise.all([...this.nodes.values()].map((node) => node.kill()));
    for (const dir of this.dirs.values()) rmSync(dir, { recursive: true, force: true });
    this.dirs.clear();
  }

  private async launch(): Promise<void> {
    await Promise.all(this.ports.map((port) => this.startNode(port)));
    const addresses = this.ports.map((port) => `127.0.0.1:${port}`);
    try {
      await run(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...addresses,
          '--cluster-replicas',
          String(this.options.replicasPerMaster),
          '--cluster-yes',
        ],
        { timeout: this.options.startTimeoutMs },
      );
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      throw new Error(`redis-cli --cluster create failed: ${stderr || stdout || String(error)}`, {
        cause: error,
      });
    }
    await pollUntil(
      async () => {
        await this.assertAllOk();
        await this.assertReplicasInSync();
        return true;
      },
      'every node to report cluster_state:ok and every replica to be in sync',
      this.options.startTimeoutMs,
    );
  }

  private async startNode(port: number): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), `test-redis-cluster-${port}-`));
    this.dirs.set(port, dir);
    const node = await RedisNodeProcess.start(port, [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, 'nodes.conf'),
      '--cluster-node-timeout',
      String(this.options.nodeTimeoutMs),
      '--appendonly',
      'yes',
      '--save',
      '',
      '--repl-diskless-sync-delay',
      '0',
      '--dir',
      dir,
      '--loglevel',
      'warning',
    ]);
    this.nodes.set(port, node);
  }

  /** Fails unless every running node reports cluster_state:ok with all slots served. */
  private async assertAllOk(): Promise<void> {
    for (const port of this.alivePorts()) {
      const info = String(await redisCommand(port, ['CLUSTER', 'INFO']));
      if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info)) {
        const state = /cluster_state:(\w+)/.exec(info)?.[1];
        throw new Error(`node ${port} reports cluster_state:${state}`);
      }
    }
  }

  /** Fails unless there are `masters` masters and each running replica has its initial sync done. */
  private async assertReplicasInSync(): Promise<void> {
    const masters = await this.masters();
    if (masters.length !== this.options.masters) {
      throw new Error(`${masters.length} masters instead of ${this.options.masters}`);
    }
    for (const port of this.alivePorts()) {
      const role = await this.role(port);
      if (role[0] === 'slave' && role[3] !== 'connected') {
        throw new Error(`replica ${port} is ${String(role[3])}, not connected, to its master`);
      }
    }
  }

  private async masterOfSlot(askedPort: number, slot: number): Promise<number> {
    const slots = (await redisCommand(askedPort, ['CLUSTER', 'SLOTS'])) as SlotRange[];
    const range = slots.find(([first, last]) => slot >= Number(first) && slot <= Number(last));
    if (!range) throw new Error(`no node serves slot ${slot}`);
    return Number(range[2][1]);
  }

  private async role(port: number): Promise<unknown[]> {
    return (await redisCommand(port, ['ROLE'])) as unknown[];
  }

  private alivePorts(): number[] {
    return this.ports.filter((port) => this.running(port));
  }

  private anyAlivePort(): number {
    const [port] = this.alivePorts();
    if (port === undefined) throw new Error('no node of the cluster is running');
    return port;
  }
}
