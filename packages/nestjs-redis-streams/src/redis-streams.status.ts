import { Injectable } from '@nestjs/common';
import { Cluster } from 'ioredis';
import { DEFAULTS } from './redis-streams.constants.js';
import { RedisConnections } from './redis/redis-connections.js';
import type { WaitingForRedis } from './redis/redis-wait.js';
import { withTimeout } from './util/waits.js';
import type { FlowState } from './flow-control.js';

/** What one consumer loop reports about itself. */
export interface ConsumerState {
  stream: string;
  group: string;
  consumer: string;
  /** The loop is alive and reading (false before start, after stop, or if it died). */
  running: boolean;
  /** Handler calls in progress in this instance. */
  inFlight: number;
  /** The last error the loop met talking to Redis, cleared by the next successful read. */
  lastError?: string;
  /**
   * While Redis fails the calls made for entries (e.g. full: OOM), how many wait for it, since
   * when, and the last failure. Reads may still succeed meanwhile, so `lastError` can be clear.
   */
  waitingForRedis?: WaitingForRedis;
  /**
   * The group's flow as this instance sees it: paused by hand, busy until, circuit. A paused or
   * busy group is healthy: it holds calls back on purpose.
   */
  flow?: FlowState;
}

export interface PingResult {
  ok: boolean;
  latencyMs?: number;
  error?: string;
  /** What answered, when it is more than one server: e.g. `3 masters, cluster_state ok`. */
  checked?: string;
}

/** Something that can report consumer state; implemented by the consumer loops. */
export interface ConsumerStateSource {
  state(): ConsumerState;
}

/** Health facts of the module, for readiness probes and dashboards. */
@Injectable()
export class RedisStreamsStatus {
  private stopping = false;
  private readonly sources: ConsumerStateSource[] = [];
  private readonly handlerList: Array<{ stream: string; group: string }> = [];

  constructor(private readonly connections: RedisConnections) {}

  /** True once shutdown began: the instance should no longer be considered ready. */
  get shuttingDown(): boolean {
    return this.stopping;
  }

  markShuttingDown(): void {
    this.stopping = true;
  }

  /** Reports `source` from now on; returns a function that stops reporting it. */
  register(source: ConsumerStateSource): () => void {
    this.sources.push(source);
    return () => remove(this.sources, source);
  }

  /**
   * Records a handler, whether or not this instance runs consumers; returns a function that
   * forgets it (a handler unregistered).
   */
  registerHandler(handler: { stream: string; group: string }): () => void {
    this.handlerList.push(handler);
    return () => remove(this.handlerList, handler);
  }

  /** Every handler of the application (`@StreamHandler` or registered): stream and group. */
  handlers(): Array<{ stream: string; group: string }> {
    return [...this.handlerList];
  }

  consumers(): ConsumerState[] {
    return this.sources.map((source) => source.state());
  }

  /**
   * PINGs Redis on the command connection; never waits longer than `timeoutMs`. On Cluster it
   * PINGs every master and asks for `cluster_state`: one node answering says little about the
   * slots of another. Through Sentinel it PINGs the current master.
   */
  async ping(timeoutMs: number = DEFAULTS.pingTimeoutMs): Promise<PingResult> {
    const started = Date.now();
    try {
      const redis = this.connections.command;
      // A probe answers now: while the connection is down, say so rather than wait for it.
      if (redis.status !== 'ready') throw new Error(`Redis connection is ${redis.status}`);
      if (redis instanceof Cluster) {
        const checked = await withTimeout(this.pingCluster(redis), timeoutMs);
        return { ok: true, latencyMs: Date.now() - started, checked };
      }
      await withTimeout(redis.ping(), timeoutMs);
      return { ok: true, latencyMs: Date.now() - started };
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
  }

  private async pingCluster(cluster: Cluster): Promise<string> {
    const masters = this.connections.dataNodes();
    if (masters.length === 0) throw new Error('the Cluster client knows no master');
    const failures: string[] = [];
    await Promise.all(
      masters.map(({ address, redis }) =>
        redis.ping().catch((error: Error) => failures.push(`${address}: ${error.message}`)),
      ),
    );
    if (failures.length > 0) throw new Error(`master not answering: ${failures.join('; ')}`);
    const info = await cluster.cluster('INFO');
    const state = /cluster_state:(\w+)/.exec(String(info))?.[1] ?? 'unknown';
    if (state !== 'ok') {
      throw new Error(`cluster_state is ${state}: some slots have no reachable master`);
    }
    return `${masters.length} masters, cluster_state ok`;
  }
}

function remove<T>(list: T[], item: T): void {
  const index = list.indexOf(item);
  if (index !== -1) list.splice(index, 1);
}
