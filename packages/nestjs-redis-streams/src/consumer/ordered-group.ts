import { Logger } from '@nestjs/common';
import type { ConsumerState, ConsumerStateSource } from '../redis-streams.status.js';
import type { RedisClient, RedisConnections } from '../redis/redis-connections.js';
import { ownerOf, partitionStream } from '../partitions.js';
import type { ConsumerDefinition, ConsumerRuntime } from './consumer-definition.js';
import type { StreamEvents } from '../stream-events.js';
import { streamKeys } from '../stream-keys.js';
import { ACQUIRE_LEASE } from '../scripts/fenced.scripts.js';
import { Ticker } from '../util/ticker.js';
import { FlowGate } from './flow-gate.js';
import { OrderedPartition, type OrderedSettings } from './ordered-partition.js';

export type { OrderedSettings } from './ordered-partition.js';

/**
 * `ordered: true` on a partitioned stream: every partition is processed by one consumer at a
 * time, one entry after the other, so events with the same partition key are handled in the
 * order they were published.
 *
 * Instances of the group register as members (a sorted set scored by expiry) and each partition
 * belongs to one live member by rendezvous hashing. A member processes a partition only while it
 * holds the partition's lease, which carries a fencing token: acknowledgements and dead letters
 * of a member whose lease lapsed are refused. When an instance joins, the partitions that move to
 * it are released by their current owner after its current entry; when one dies, its membership
 * and leases expire and the partitions are taken over within about `leaseMs` plus a third of it.
 */
export class OrderedGroup implements ConsumerStateSource {
  private readonly logger: Logger;
  private readonly running = new Map<number, OrderedPartition>();
  private readonly membersKey: string;
  private readonly heartbeat: Ticker;
  /** The group's flow, shared by this instance's partitions. */
  private readonly gate: FlowGate;
  private stopping = false;
  private started = false;
  private lastError?: string;
  private members: string[] = [];

  constructor(
    private readonly definition: ConsumerDefinition,
    private readonly settings: OrderedSettings,
    private readonly runtime: ConsumerRuntime,
    private readonly connections: RedisConnections,
    private readonly events: StreamEvents,
  ) {
    this.logger = new Logger(`OrderedGroup ${definition.stream}/${definition.group}`);
    this.membersKey = streamKeys.members(definition.stream, definition.group);
    this.gate = new FlowGate(
      {
        definition,
        runtime,
        redis: () => this.connections.command,
        events,
        logger: this.logger,
      },
      definition.flow,
      () => undefined,
    );
    this.heartbeat = new Ticker(
      Math.max(Math.floor(settings.leaseMs / 3), 50),
      async () => {
        // The flow state first: no partition starts before it is known (paused, busy, open).
        await this.gate
          .refresh()
          .catch((error: Error) => this.noteError(`flow state: ${error.message}`));
        await this.rebalance();
        this.lastError = undefined;
      },
      (error) => this.noteError(`rebalancing failed: ${(error as Error).message}`),
    );
  }

  private get redis(): RedisClient {
    return this.connections.command;
  }

  start(): void {
    this.started = true;
    this.heartbeat.start(true);
  }

  /** Partitions this instance processes now. */
  ownedPartitions(): number[] {
    return [...this.running.keys()].sort((a, b) => a - b);
  }

  state(): ConsumerState {
    const lastError =
      this.lastError ?? [...this.running.values()].find((p) => p.lastError)?.lastError;
    return {
      stream: this.definition.stream,
      group: this.definition.group,
      consumer: this.runtime.consumerName,
      running: this.started && !this.stopping,
      inFlight: [...this.running.values()].filter((p) => p.busy).length,
      lastError,
      flow: this.gate.state(),
    };
  }

  async stop(timeoutMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.heartbeat.stop();
    this.gate.stop();
    await Promise.all([...this.running.values()].map((p) => p.stop(timeoutMs)));
    this.running.clear();
    // Leave the group at once, so the others take the partitions over without waiting for expiry.
    await this.redis.zrem(this.membersKey, this.runtime.consumerName).catch(() => undefined);
  }

  /** One heartbeat: renew membership, read the live members, start and stop partitions to match. */
  private async rebalance(): Promise<void> {
    const now = Date.now();
    const me = this.runtime.consumerName;
    const pipeline = this.redis.pipeline();
    pipeline.zadd(this.membersKey, String(now + this.settings.leaseMs), me);
    pipeline.zremrangebyscore(this.membersKey, '-inf', now);
    pipeline.zrange(this.membersKey, '0', '-1');
    pipeline.pexpire(this.membersKey, this.settings.leaseMs * 10);
    const replies = (await pipeline.exec()) ?? [];
    const failed = replies.find(([error]) => error);
    if (failed) throw failed[0]!;
    const members = (replies[2][1] as string[]).slice().sort();
    if (members.join(',') !== this.members.join(',')) {
      this.logger.log(`Members of the group: ${members.join(', ')}`);
      this.members = members;
    }
    if (this.stopping) return;
    for (let p = 0; p < this.settings.partitions; p++) {
      const mine = ownerOf(p, members) === me;
      const current = this.running.get(p);
      if (current && (!mine || current.ended)) {
        this.running.delete(p);
        if (!current.ended) {
          this.logger.log(`Partition ${p} moves to ${ownerOf(p, members)}; handing it over`);
        }
        // One that ended by itself (its lease lapsed) and stays here keeps the lease key: taking it
        // again below gives this consumer the same token, which a release would delete.
        void current.stop(this.settings.leaseMs, !mine);
      }
      if (mine && !this.running.has(p)) await this.tryStart(p);
    }
  }

  private async tryStart(partition: number): Promise<void> {
    const stream = partitionStream(this.definition.stream, partition);
    const token = await ACQUIRE_LEASE.run<number>(
      this.redis,
      [
        streamKeys.lease(stream, this.definition.group),
        streamKeys.fence(stream, this.definition.group),
      ],
      [this.runtime.consumerName, this.settings.leaseMs],
    );
    // Still held by the former owner: it is finishing its entry, or its lease has to expire.
    if (!token) return;
    const worker = new OrderedPartition(
      partition,
      stream,
      Number(token),
      this.definition,
      this.settings,
      this.runtime,
      this.connections,
      this.events,
      this.logger,
      this.gate,
    );
    this.running.set(partition, worker);
    this.logger.log(`Processing partition ${partition} (${stream}) with fencing token ${token}`);
    worker.start();
  }

  private noteError(message: string): void {
    if (message !== this.lastError) this.logger.warn(message);
    this.lastError = message;
  }
}
