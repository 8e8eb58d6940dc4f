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
import { settled, writeTogether } from './write-together.js';
import { InfrastructureError, isInfrastructureError } from './infrastructure-error.js';
import { DEFAULTS } from './redis-streams.constants.js';
import {
  ACQUIRE_LEASE,
  FENCED_ACK,
  FENCED_DEAD_LETTER,
  RENEW_LEASE,
  TAKE_OVER_PENDING,
} from './scripts/fenced.scripts.js';
import { CLAIM_EVENT, RELEASE_EVENT } from './scripts/idempotency.scripts.js';

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
    this.logger = new Logger(`OrderedGroup ${definition.stream}/${definition.group}`);
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
  /** Until this owner has claimed something: the oldest pending entry may have been running. */
  private firstClaim = true;
  /** Idempotent handlers: the entry whose eventId this owner holds the running-marker of. */
  private runningEvent?: { id: string; eventId: string };

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

  /** Stops after the current entry (or after `timeoutMs`) and gives the lease back (`release`). */
  async stop(timeoutMs: number, release = true): Promise<void> {
    if (!this.abort.signal.aborted) this.abort.abort();
    if (this.blocking) this.connections.closeBlocking(this.blocking);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.loop,
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    clearTimeout(this.renewTimer);
    if (release && !this.busy) {
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
            this.renewEventMarker();
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

  /** Keeps the running-marker of a long idempotent handler from expiring under it. */
  private renewEventMarker(): void {
    const running = this.runningEvent;
    if (running === undefined) return;
    void CLAIM_EVENT.run(
      this.redis,
      [streamKeys.done(this.stream, this.definition.group, running.eventId)],
      [`running:${running.id}`, this.settings.leaseMs],
    ).catch(() => undefined);
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async run(): Promise<void> {
    let groupReady = false;
    // First what is pending (left by earlier owners, or by reads whose replies were lost), oldest
    // first; then new entries.
    let recovering = true;
    let failures = 0;
    while (!this.stopped) {
      try {
        if (!groupReady) groupReady = await this.ensureGroup();
        let batch: Claimed[];
        if (recovering) {
          const taken = await this.takeOverPending();
          if (taken.drained) recovering = false;
          batch = taken.entries;
        } else {
          const read = await this.readNew();
          // Taken over with the rest of the pending list, in order.
          if (read.stranded) {
            recovering = true;
            continue;
          }
          batch = read.entries;
        }
        failures = 0;
        this.lastError = undefined;
        for (const { entry, attempt } of batch) {
          if (this.stopped) break;
          await this.handleInOrder(entry, attempt);
        }
      } catch (error) {
        if (this.stopped) break;
        const message = (error as Error).message;
        if (message.includes('NOGROUP')) groupReady = false;
        // A step that failed may have left entries pending under this consumer unseen (a read
        // that reached Redis, a batch not handled): take the pending list over again first.
        recovering = true;
        this.lastError = `partition ${this.partition}: ${message}`;
        failures += 1;
        await this.pause(backoff(failures));
      }
    }
  }

  private async ensureGroup(): Promise<boolean> {
    const { group, startFrom } = this.definition;
    await this.redis
      .xgroup('CREATE', this.stream, group, startFrom === 'new' ? '$' : '0', 'MKSTREAM')
      .catch((error: Error) => {
        if (!error.message.includes('BUSYGROUP')) throw error;
      });
    return true;
  }

  /**
   * Claims the oldest pending entries of the group, whoever has them. `drained` once nothing is
   * pending any more; a call may claim nothing and still not be drained (every id it looked at
   * had been deleted from the stream), and is then simply made again.
   */
  private async takeOverPending(): Promise<{ entries: Claimed[]; drained: boolean }> {
    const reply = await TAKE_OVER_PENDING.run<[unknown[], number[], Buffer[], number] | number>(
      this.redis,
      [this.stream, this.leaseKey],
      [this.definition.group, this.runtime.consumerName, this.holder, this.definition.batchSize],
    );
    if (typeof reply === 'number') throw this.lostLease();
    const [claimed, deliveries, gone, drained] = reply;
    if (gone.length > 0) {
      this.logger.warn(
        `Dropped ${gone.length} pending entries of partition ${this.partition} that were deleted from the stream: ${gone.join(', ')}`,
      );
    }
    const entries: Claimed[] = [];
    claimed.forEach((item, i) => {
      const entry = toRawEntry(item);
      if (!entry) return;
      // Entries are handled one after the other: of what a former owner left pending, only the
      // oldest can have been running when it stopped, and that delivery counts as an attempt.
      // Everything else (later entries of its batch, reads whose replies were lost) never ran.
      const mayHaveRun = this.firstClaim && entries.length === 0;
      entries.push({ entry, attempt: mayHaveRun ? Number(deliveries[i]) + 1 : 1 });
    });
    if (entries.length > 0 || Number(drained) === 1) this.firstClaim = false;
    return { entries, drained: Number(drained) === 1 };
  }

  /**
   * Reads new entries. `stranded` when entries other than this read's are pending: a read whose
   * reply was lost (here, or of a former owner, reaching Redis late) delivered them to nobody who
   * handles them; they and this read's entries are then taken over, in order.
   */
  private async readNew(): Promise<{ entries: Claimed[]; stranded: boolean }> {
    const { group, blockMs, batchSize } = this.definition;
    const reader = this.blocking!;
    if (reader.status !== 'ready') await this.connections.whenReady(reader, blockMs + 1_000);
    const sentAt = Date.now();
    // The pending summary goes on the same connection, so Redis answers it right after the read.
    const [read, pending] = writeTogether(reader, () => [
      settled(
        reader.xreadgroup(
          'GROUP',
          group,
          this.runtime.consumerName,
          'COUNT',
          batchSize,
          'BLOCK',
          blockMs,
          'STREAMS',
          this.stream,
          '>',
        ),
      ),
      settled(reader.xpending(this.stream, group)),
    ]);
    const [readError, reply] = await read;
    if (readError) {
      // Not a reply of Redis: whether the read reached Redis is unknown, and a late reply on this
      // connection would answer the next command. Start from a new connection.
      if (readError.name !== 'ReplyError') this.resetReader(readError.message);
      throw readError;
    }
    if (reply === null && Date.now() - sentAt >= blockMs + 900) {
      // Not even the end of the BLOCK came back: the client's own timeout ended the read. Redis
      // may still run it and deliver entries that nobody receives.
      this.resetReader(`no answer for ${Date.now() - sentAt} ms`);
      return { entries: [], stranded: true };
    }
    const [pendingError, summary] = await pending;
    if (pendingError) throw pendingError;
    const received = (reply ?? []) as Array<[string, unknown[]]>;
    const items = received.flatMap(([, entries]) => entries);
    if (Number((summary as [number])[0]) > items.length) {
      this.logger.warn(
        `Partition ${this.partition} has pending entries that no read of this owner returned; taking them over first`,
      );
      return { entries: [], stranded: true };
    }
    const entries: Claimed[] = [];
    for (const item of items) {
      let entry = fromTextReply(item);
      if (entry && mayHaveLostBytes(entry)) {
        const [bytes] = await this.redis.xrangeBuffer(this.stream, entry.id, entry.id);
        entry = (bytes && toRawEntry(bytes)) || entry;
      }
      if (entry) entries.push({ entry, attempt: 1 });
    }
    return { entries, stranded: false };
  }

  /** Replaces a read connection that may be dead or out of step with a new one. */
  private resetReader(why: string): void {
    const reader = this.blocking;
    if (!reader || this.stopped || reader.status !== 'ready') return;
    this.logger.warn(`Read connection of partition ${this.partition}: ${why}; reconnecting it`);
    reader.disconnect(true);
  }

  /**
   * Runs the handler until it succeeds or the entry is dead-lettered; nothing overtakes it. A
   * failure of Redis (the library's own calls, or one the handler reports) is no attempt: the
   * entry waits in place until Redis is back.
   */
  private async handleInOrder(entry: RawEntry, firstAttempt: number): Promise<void> {
    const { group, policy, dto } = this.definition;
    const logical = this.definition.stream;
    const idempotent = this.definition.idempotencyWindowMs !== undefined;
    let attempt = firstAttempt;
    let unavailable = 0;
    this.busy = true;
    try {
      while (!this.stopped) {
        let eventId = entry.id;
        if (Date.now() > this.leaseValidUntil) throw this.lostLease();
        let durationMs: number;
        try {
          const decoded = decodeEntry(entry, this.runtime.maxValueBytes, this.definition.rawFields);
          eventId = decoded.eventId;
          if (idempotent) {
            const claim = await this.claimEvent(entry.id, eventId);
            if (claim === 'done') {
              this.logger.log(
                `Skipping, already handled (stream=${this.stream} group=${group} entry=${entry.id} eventId=${eventId})`,
              );
              await this.untilDone(() => this.acknowledge(entry.id));
              return;
            }
            if (claim === 'busy') {
              // Another entry of the same event runs (a former owner's): wait for it in place,
              // without spending an attempt, or the next entries would overtake this one.
              await this.pause(this.busyRetryMs);
              continue;
            }
          }
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
          if (isInfrastructureError(error)) {
            unavailable += 1;
            this.lastError = `partition ${this.partition}: entry ${entry.id} waits for Redis: ${reason}`;
            if (unavailable === 1) {
              this.logger.warn(
                `Redis unavailable, entry waits in place (stream=${this.stream} group=${group} entry=${entry.id} eventId=${eventId} attempt=${attempt}): ${reason}`,
              );
            }
            await this.pause(backoff(unavailable));
            continue;
          }
          unavailable = 0;
          if (error instanceof NonRetryableError || policy.exhausted(attempt)) {
            const why =
              error instanceof NonRetryableError
                ? reason
                : `gave up after ${attempt} attempts: ${reason}`;
            this.logger.warn(
              `Dead-lettering (stream=${this.stream} group=${group} entry=${entry.id} eventId=${eventId} attempt=${attempt}): ${why}`,
            );
            await this.releaseEvent();
            await this.untilDone(() => this.deadLetter(entry, attempt, why));
            this.events.emit('failed', { stream: logical, group, attempt, retrying: false });
            this.events.emit('deadLettered', { stream: logical, group });
            this.lastError = undefined;
            return;
          }
          this.events.emit('failed', { stream: logical, group, attempt, retrying: true });
          // In place: the next entries of this partition wait, or order would break.
          await this.pause(policy.delayMs(attempt));
          attempt += 1;
          continue;
        }
        await this.untilDone(() => this.acknowledge(entry.id, this.runningEvent?.eventId));
        this.runningEvent = undefined;
        this.lastError = undefined;
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
   * Acknowledges under the lease; for an idempotent handler that ran, records in the same step
   * that the event was handled.
   */
  private async acknowledge(id: string, handledEventId?: string): Promise<void> {
    const { group, idempotencyWindowMs } = this.definition;
    const keys = [this.stream, this.leaseKey];
    const args: Array<string | number> = [group, id, this.holder];
    if (handledEventId !== undefined && idempotencyWindowMs !== undefined) {
      keys.push(streamKeys.done(this.stream, group, handledEventId));
      args.push(idempotencyWindowMs);
    }
    const acked = await FENCED_ACK.run<number>(this.redis, keys, args);
    if (Number(acked) === -1) throw this.lostLease();
  }

  /**
   * For idempotent handlers: takes the right to run the handler for the eventId (see CLAIM_EVENT),
   * with the partition's lease time; it is renewed with the lease while the handler runs.
   */
  private async claimEvent(id: string, eventId: string): Promise<'run' | 'done' | 'busy'> {
    let reply: Buffer;
    try {
      reply = await CLAIM_EVENT.run<Buffer>(
        this.redis,
        [streamKeys.done(this.stream, this.definition.group, eventId)],
        [`running:${id}`, this.settings.leaseMs],
      );
    } catch (error) {
      throw new InfrastructureError('claiming the eventId', { cause: error });
    }
    const claim = reply.toString() as 'run' | 'done' | 'busy';
    this.runningEvent = claim === 'run' ? { id, eventId } : undefined;
    return claim;
  }

  /** Lets another entry of the same event run after this one was given up; if Redis cannot be asked, the marker's lease ends it. */
  private async releaseEvent(): Promise<void> {
    const running = this.runningEvent;
    if (running === undefined) return;
    this.runningEvent = undefined;
    await RELEASE_EVENT.run(
      this.redis,
      [streamKeys.done(this.stream, this.definition.group, running.eventId)],
      [`running:${running.id}`],
    ).catch(() => undefined);
  }

  private get busyRetryMs(): number {
    return Math.min(Math.max(Math.floor(this.settings.leaseMs / 10), 100), 1_000);
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

/** An entry to handle, and the attempt it is at. */
interface Claimed {
  entry: RawEntry;
  attempt: number;
}

/** Wait after the `failures`-th failure in a row of Redis: exponential, capped. */
function backoff(failures: number): number {
  return Math.min(
    DEFAULTS.reconnectBaseDelayMs * 2 ** Math.min(failures, 10),
    DEFAULTS.reconnectMaxDelayMs,
  );
}
