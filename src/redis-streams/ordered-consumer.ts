import { Logger } from '@nestjs/common';
import type { ConsumerState, ConsumerStateSource } from './redis-streams.status.js';
import type { RedisClient, RedisConnections } from './redis-connections.js';
import { NonRetryableError } from './non-retryable.error.js';
import { validatePayload } from './payload-validator.js';
import { ownerOf, partitionStream } from './partitions.js';
import {
  deadLetterFields,
  decodeEntry,
  fromTextReply,
  mayHaveLostBytes,
  toRawEntry,
  type RawEntry,
} from './stream-codec.js';
import type { ConsumerDefinition, ConsumerRuntime } from './stream-consumer.js';
import type { StreamEvents } from './stream-events.js';
import { streamKeys } from './stream-keys.js';
import { streamIdTimeMs } from './stream-id.js';
import { pauseUnlessAborted, sleep } from './waits.js';
import {
  ACQUIRE_LEASE,
  FENCED_ACK,
  FENCED_DEAD_LETTER,
  RENEW_LEASE,
  TAKE_OVER_PENDING,
} from './stream-scripts.js';

/** Settings of ordered processing on a partitioned stream. */
export interface OrderedSettings {
  partitions: number;
  /** How long a partition lease and a membership last without renewal. */
  leaseMs: number;
}

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
  private timer?: NodeJS.Timeout;
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
    this.logger = new Logger(`OrderedConsumer ${definition.stream}/${definition.group}`);
    this.membersKey = streamKeys.members(definition.stream, definition.group);
  }

  private get redis(): RedisClient {
    return this.connections.command;
  }

  private get intervalMs(): number {
    return Math.max(Math.floor(this.settings.leaseMs / 3), 50);
  }

  start(): void {
    this.started = true;
    const tick = async (): Promise<void> => {
      try {
        await this.rebalance();
        this.lastError = undefined;
      } catch (error) {
        this.noteError(`rebalancing failed: ${(error as Error).message}`);
      }
      if (!this.stopping) this.timer = setTimeout(() => void tick(), this.intervalMs);
    };
    void tick();
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
    };
  }

  async stop(timeoutMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.timer);
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
        void current.stop(this.settings.leaseMs);
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

/** One partition while this instance holds its lease: reads and handles entries one at a time. */
class OrderedPartition {
  ended = false;
  busy = false;
  lastError?: string;
  private readonly holder: string;
  private readonly leaseKey: string;
  private readonly abort = new AbortController();
  private blocking?: RedisClient;
  private loop?: Promise<void>;
  private renewTimer?: NodeJS.Timeout;
  /**
   * Until when the lease is surely ours: a third of the lease before it would lapse since the last
   * renewal Redis confirmed. Past it (Redis unreachable) no handler is started: another instance
   * may own the partition by then.
   */
  private leaseValidUntil: number;

  constructor(
    readonly partition: number,
    private readonly stream: string,
    readonly token: number,
    private readonly definition: ConsumerDefinition,
    private readonly settings: OrderedSettings,
    private readonly runtime: ConsumerRuntime,
    private readonly connections: RedisConnections,
    private readonly events: StreamEvents,
    private readonly logger: Logger,
  ) {
    this.holder = `${runtime.consumerName}|${token}`;
    this.leaseKey = streamKeys.lease(stream, definition.group);
    this.leaseValidUntil = Date.now() + Math.floor((settings.leaseMs * 2) / 3);
  }

  private get redis(): RedisClient {
    return this.connections.command;
  }

  start(): void {
    this.blocking = this.connections.createBlocking(
      `${this.definition.group}:p${this.partition}`,
      this.definition.blockMs,
    );
    this.scheduleRenewal();
    this.loop = this.run().finally(() => {
      this.ended = true;
      clearTimeout(this.renewTimer);
    });
  }

  /** Stops after the current entry (or after `timeoutMs`) and gives the lease back. */
  async stop(timeoutMs: number): Promise<void> {
    if (!this.abort.signal.aborted) this.abort.abort();
    if (this.blocking) this.connections.closeBlocking(this.blocking);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.loop,
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    clearTimeout(this.renewTimer);
    if (!this.busy) {
      await RENEW_LEASE.run(this.redis, [this.leaseKey], [this.holder, 0]).catch(() => undefined);
    }
  }

  private scheduleRenewal(): void {
    const every = Math.max(Math.floor(this.settings.leaseMs / 3), 50);
    this.renewTimer = setTimeout(() => {
      const asked = Date.now();
      void RENEW_LEASE.run<number>(
        this.redis,
        [this.leaseKey],
        [this.holder, this.settings.leaseMs],
      ).then(
        (held) => {
          if (Number(held) === 1) {
            this.leaseValidUntil = asked + Math.floor((this.settings.leaseMs * 2) / 3);
            if (!this.ended) this.scheduleRenewal();
            return;
          }
          this.logger.warn(`Lost the lease of partition ${this.partition}; stopping it`);
          this.abort.abort();
          if (this.blocking) this.connections.closeBlocking(this.blocking);
        },
        (error: unknown) => {
          // Redis away: keep trying while the lease may still be ours; after that, stop.
          this.lastError = `lease renewal failed: ${(error as Error).message}`;
          if (Date.now() > this.leaseValidUntil) {
            this.logger.warn(
              `Could not renew the lease of partition ${this.partition} in time; stopping it`,
            );
            this.abort.abort();
            if (this.blocking) this.connections.closeBlocking(this.blocking);
          } else if (!this.ended) this.scheduleRenewal();
        },
      );
    }, every);
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async run(): Promise<void> {
    const { group } = this.definition;
    let groupReady = false;
    let takenOver = false;
    while (!this.stopped) {
      try {
        if (!groupReady) {
          await this.redis
            .xgroup(
              'CREATE',
              this.stream,
              group,
              this.definition.startFrom === 'new' ? '$' : '0',
              'MKSTREAM',
            )
            .catch((error: Error) => {
              if (!error.message.includes('BUSYGROUP')) throw error;
            });
          groupReady = true;
        }
        // First what earlier owners left unfinished, oldest first; then new entries.
        let batch: Array<{ entry: RawEntry; attempt: number }>;
        if (!takenOver) {
          batch = await this.takeOverPending();
          if (batch.length === 0) takenOver = true;
        } else {
          batch = await this.readNew();
        }
        this.lastError = undefined;
        for (const { entry, attempt } of batch) {
          if (this.stopped) break;
          await this.handleInOrder(entry, attempt);
        }
      } catch (error) {
        if (this.stopped) break;
        const message = (error as Error).message;
        if (message.includes('NOGROUP')) groupReady = false;
        this.lastError = `partition ${this.partition}: ${message}`;
        await this.pause(500);
      }
    }
  }

  private async takeOverPending(): Promise<Array<{ entry: RawEntry; attempt: number }>> {
    const reply = await TAKE_OVER_PENDING.run<[unknown[], number[]] | number>(
      this.redis,
      [this.stream, this.leaseKey],
      [this.definition.group, this.runtime.consumerName, this.holder, this.definition.batchSize],
    );
    if (typeof reply === 'number') throw this.lostLease();
    const [claimed, deliveries] = reply;
    const batch: Array<{ entry: RawEntry; attempt: number }> = [];
    claimed.forEach((item, i) => {
      const entry = toRawEntry(item);
      // An earlier delivery that did not finish counts as an attempt.
      if (entry) batch.push({ entry, attempt: Number(deliveries[i]) + 1 });
    });
    return batch;
  }

  private async readNew(): Promise<Array<{ entry: RawEntry; attempt: number }>> {
    const reply = await this.blocking!.xreadgroup(
      'GROUP',
      this.definition.group,
      this.runtime.consumerName,
      'COUNT',
      this.definition.batchSize,
      'BLOCK',
      this.definition.blockMs,
      'STREAMS',
      this.stream,
      '>',
    );
    const batch: Array<{ entry: RawEntry; attempt: number }> = [];
    for (const [, entries] of (reply ?? []) as Array<[string, unknown[]]>) {
      for (const item of entries) {
        let entry = fromTextReply(item);
        if (entry && mayHaveLostBytes(entry)) {
          const [bytes] = await this.redis.xrangeBuffer(this.stream, entry.id, entry.id);
          entry = (bytes && toRawEntry(bytes)) || entry;
        }
        if (entry) batch.push({ entry, attempt: 1 });
      }
    }
    return batch;
  }

  /** Runs the handler until it succeeds or the entry is dead-lettered; nothing overtakes it. */
  private async handleInOrder(entry: RawEntry, firstAttempt: number): Promise<void> {
    const { group, policy, dto } = this.definition;
    const logical = this.definition.stream;
    this.busy = true;
    try {
      for (let attempt = firstAttempt; !this.stopped; attempt++) {
        let eventId = entry.id;
        if (Date.now() > this.leaseValidUntil) throw this.lostLease();
        let durationMs: number;
        try {
          const decoded = decodeEntry(entry, this.runtime.maxValueBytes, this.definition.rawFields);
          eventId = decoded.eventId;
          const payload = dto ? await validatePayload(dto, decoded.payload) : decoded.payload;
          const started = performance.now();
          await this.definition.handle(payload, {
            id: entry.id,
            stream: this.stream,
            group,
            consumer: this.runtime.consumerName,
            eventId,
            attempt,
            fields: decoded.fields,
            partition: this.partition,
            fencingToken: this.token,
          });
          durationMs = performance.now() - started;
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          if (error instanceof NonRetryableError || policy.exhausted(attempt)) {
            const why =
              error instanceof NonRetryableError
                ? reason
                : `gave up after ${attempt} attempts: ${reason}`;
            this.logger.warn(
              `Dead-lettering (stream=${this.stream} group=${group} entry=${entry.id} eventId=${eventId} attempt=${attempt}): ${why}`,
            );
            await this.untilDone(() => this.deadLetter(entry, attempt, why));
            this.events.emit('failed', { stream: logical, group, attempt, retrying: false });
            this.events.emit('deadLettered', { stream: logical, group });
            return;
          }
          this.events.emit('failed', { stream: logical, group, attempt, retrying: true });
          // In place: the next entries of this partition wait, or order would break.
          await this.pause(policy.delayMs(attempt));
          continue;
        }
        await this.untilDone(async () => {
          const acked = await FENCED_ACK.run<number>(
            this.redis,
            [this.stream, this.leaseKey],
            [group, entry.id, this.holder],
          );
          if (Number(acked) === -1) throw this.lostLease();
        });
        this.events.emit('handled', {
          stream: logical,
          group,
          durationMs,
          latencyMs: Date.now() - streamIdTimeMs(entry.id),
        });
        return;
      }
    } finally {
      this.busy = false;
    }
  }

  /**
   * Repeats a write (acknowledgement, dead letter) that Redis did not confirm, without running the
   * handler again, while the lease may still be ours; then gives the partition up.
   */
  private async untilDone(write: () => Promise<void>): Promise<void> {
    for (;;) {
      try {
        await write();
        return;
      } catch (error) {
        if (error instanceof LostLeaseError) throw error;
        this.lastError = `partition ${this.partition}: ${(error as Error).message}`;
        if (this.stopped || Date.now() > this.leaseValidUntil) throw this.lostLease();
        await sleep(100);
      }
    }
  }

  private async deadLetter(entry: RawEntry, attempt: number, reason: string): Promise<void> {
    const { group } = this.definition;
    const result = await FENCED_DEAD_LETTER.run<unknown>(
      this.redis,
      [this.stream, streamKeys.deadLetter(this.stream), this.leaseKey],
      [
        group,
        entry.id,
        this.holder,
        ...deadLetterFields(entry, {
          reason,
          attempt,
          group,
          consumer: this.runtime.consumerName,
          stream: this.stream,
        }),
      ],
    );
    if (result === -1) throw this.lostLease();
  }

  private lostLease(): LostLeaseError {
    this.abort.abort();
    return new LostLeaseError(`lease of partition ${this.partition} is no longer ours`);
  }

  /** Waits, but wakes at once on stop. */
  private pause(ms: number): Promise<void> {
    return pauseUnlessAborted(ms, this.abort.signal);
  }
}

class LostLeaseError extends Error {}
