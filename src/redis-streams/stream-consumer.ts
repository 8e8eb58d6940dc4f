import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { DEFAULTS } from './redis-streams.constants.js';
import type { ConsumerState, ConsumerStateSource } from './redis-streams.status.js';
import type { RedisClient, RedisConnections } from './redis-connections.js';
import { NonRetryableError } from './non-retryable.error.js';
import { InfrastructureError, isInfrastructureError } from './infrastructure-error.js';
import { RedisWait } from './redis-wait.js';
import { claimedBatch, OwnPending, type ClaimedBatch, type Delivery } from './own-pending.js';
import { validatePayload } from './payload-validator.js';
import type { RetryPolicy } from './retry-policy.js';
import {
  deadLetterFields,
  decodeEntry,
  fromTextReply,
  mayHaveLostBytes,
  toRawEntry,
  type RawEntry,
} from './stream-codec.js';
import type { DtoClass, GroupStart } from './stream-handler.interface.js';
import { AckBatcher } from './ack-batcher.js';
import { GroupHousekeeping } from './group-housekeeping.js';
import { settled, writeTogether } from './write-together.js';
import type { StreamEvents } from './stream-events.js';
import { streamKeys } from './stream-keys.js';
import { streamIdTimeMs } from './stream-id.js';
import { pauseUnlessAborted, sleep } from './waits.js';
import { tracingEnabled, withHandleSpan } from './trace-context.js';
import type { StreamMessage } from './stream-message.interface.js';
import {
  ACK,
  DEAD_LETTER,
  EXTEND_LEASE,
  SCHEDULE_RETRY,
  STILL_CURRENT,
} from './scripts/group-settlement.scripts.js';
import { RECLAIM, TAKE_DUE_RETRIES } from './scripts/old-work.scripts.js';
import { ENSURE_GROUP } from './scripts/group-lifecycle.scripts.js';
import { CLAIM_EVENT, RELEASE_EVENT } from './scripts/idempotency.scripts.js';

/** Everything one consumer loop needs to know about its handler. */
export interface ConsumerDefinition {
  stream: string;
  group: string;
  startFrom: GroupStart;
  batchSize: number;
  concurrency: number;
  prefetch: number;
  blockMs: number;
  policy: RetryPolicy;
  dto?: DtoClass;
  rawFields?: boolean;
  /** When set, the handler runs at most once per eventId within this many ms. */
  idempotencyWindowMs?: number;
  /** Partitioned stream, one partition at a time in order (see StreamHandlerOptions.ordered). */
  ordered?: boolean;
  handle: (payload: unknown, message: StreamMessage) => unknown;
}

export interface ConsumerRuntime {
  consumerName: string;
  claimMinIdleMs: number;
  maxValueBytes: number;
  /** See RedisStreamsModuleOptions.staleConsumerIdleMs. */
  staleConsumerIdleMs: number;
}

/**
 * One read loop for one handler: reads new entries with XREADGROUP, runs the handler with bounded
 * concurrency, acknowledges on success, schedules retries in Redis on failure, dead-letters what
 * cannot succeed, and in the background takes due retries, claims work abandoned by stopped
 * consumers and keeps its own running work from looking abandoned.
 */
export class StreamConsumer implements ConsumerStateSource {
  private readonly logger: Logger;
  private readonly keys: { retries: string; attempts: string; deadLetter: string };
  private readonly stopController = new AbortController();
  /** Entry ids this instance has claimed and not yet finished. */
  private readonly owned = new Set<string>();
  /** Resolved when nothing is owned any more (shutdown waits for it). */
  private idleWaiters: Array<() => void> = [];
  /** First-attempt successes, the hot path, are acknowledged in batches. */
  private readonly acks: AckBatcher<Acking>;
  private readonly readLowWater: number;
  /** For idempotent handlers: entry id to the eventId whose running-marker this instance holds. */
  private readonly runningEvents = new Map<string, string>();
  /** Due retries of entries whose previous attempt is still finishing here. */
  private readonly deferred = new Map<string, Delivery>();
  private slotWaiters: Array<() => void> = [];
  private blocking?: RedisClient;
  private readLoop?: Promise<void>;
  private maintenanceTimer?: NodeJS.Timeout;
  private reading = false;
  private stopping = false;
  /** Set when stop() is done: from then on even the leases of unfinished work lapse. */
  private stopped = false;
  private lastError?: string;
  private reclaimStart = '-';
  /**
   * The delivery count Redis gave each entry claimed from the pending list (an entry read new is
   * delivery 1). With the consumer name it names the delivery, for which alone the scripts settle a
   * failed attempt (see stream-scripts.ts, Ownership).
   */
  private readonly deliveries = new WeakMap<RawEntry, number>();
  /** Names this process's claim keys apart from those of any other, also of an earlier run. */
  private readonly claimPrefix = randomBytes(6).toString('base64url');
  private claims = 0;
  /**
   * The group's position as far as this consumer knows: its last-delivered-id when the group was
   * ensured, then each read's last entry. A group that vanishes is created again there.
   */
  private groupPosition?: string;
  private readonly housekeeping: GroupHousekeeping;
  private nextReclaimAt = 0;
  private nextRetryAt = 0;
  /** Slots held for due retries and reclaimed work while they are being fetched. */
  private reserved = 0;
  /** Owned entries whose handler has finished, waiting for their acknowledgement. */
  private acking = 0;
  /** Entries asked for by reads whose reply is not in yet. */
  private requested = 0;
  /**
   * Entries pending under this consumer and not started yet: read ahead (`prefetch`), or taken
   * back and waiting for a slot. Leased like running ones; handed back unspent on a graceful stop.
   */
  private readonly held: Delivery[] = [];
  /** Set while due retries, abandoned work or own pending entries are being claimed. */
  private oldWork?: Promise<void>;
  /** Own pending entries this consumer may not know of, which the read loop takes back. */
  private readonly ownPending: OwnPending;
  /** Entries held back because Redis failed a call made for them. */
  private readonly redisWait = new RedisWait();
  /** How often old work is looked for: a quarter of the backoff base, within 25-500 ms. */
  private readonly tickMs: number;
  private nextLeaseAt = 0;

  constructor(
    private readonly definition: ConsumerDefinition,
    private readonly runtime: ConsumerRuntime,
    private readonly connections: RedisConnections,
    private readonly events: StreamEvents,
  ) {
    const { stream, group } = definition;
    this.logger = new Logger(`StreamConsumer ${stream}/${group}`);
    this.acks = new AckBatcher<Acking>(
      () => this.redis,
      stream,
      group,
      (jobs, error) => this.batchAcknowledged(jobs, error),
    );
    // Read again once half a batch of slots is free, not after each handler: fewer, fuller reads.
    this.readLowWater = Math.max(
      1,
      Math.floor(Math.min(definition.batchSize, definition.concurrency) / 2),
    );
    this.tickMs = Math.min(Math.max(Math.floor(definition.policy.backoff.baseMs / 4), 25), 500);
    this.ownPending = new OwnPending(() => this.redis, stream, group, runtime.consumerName);
    this.keys = {
      retries: streamKeys.retries(stream, group),
      attempts: streamKeys.attempts(stream, group),
      deadLetter: streamKeys.deadLetter(stream),
    };
    this.housekeeping = new GroupHousekeeping(
      () => this.redis,
      {
        stream,
        group,
        consumer: runtime.consumerName,
        ...this.keys,
        staleConsumerIdleMs: runtime.staleConsumerIdleMs,
        sweepIntervalMs: Math.max(runtime.claimMinIdleMs, 1_000),
      },
      this.logger,
    );
  }

  private get redis(): RedisClient {
    return this.connections.command;
  }

  start(): void {
    this.blocking = this.connections.createBlocking(
      `${this.definition.group}:reader`,
      this.definition.blockMs,
    );
    this.readLoop = this.runReadLoop();
    this.scheduleMaintenance();
  }

  /**
   * Stops reading, gives running handlers up to `timeoutMs` to finish and be acknowledged, and
   * leaves whatever is still running pending in Redis for another consumer.
   */
  async stop(timeoutMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopController.abort();
    this.releaseSlot();
    if (this.blocking) this.connections.closeBlocking(this.blocking);
    await this.readLoop;
    // Nothing starts from here on: what is held and not started goes back to the group now.
    await this.handBack(this.held.splice(0, this.held.length), 'held and not started');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const idle = new Promise<'idle'>((resolve) => {
      if (this.owned.size === 0) resolve('idle');
      else this.idleWaiters.push(() => resolve('idle'));
    });
    const outcome = await Promise.race([idle, timedOut]);
    clearTimeout(timer);
    this.stopped = true;
    clearTimeout(this.maintenanceTimer);
    if (outcome === 'timeout' && this.owned.size > 0) {
      this.logger.warn(
        `Shutdown: ${this.owned.size} entries still running after ${timeoutMs} ms stay pending for another consumer (${this.where()}): ${[...this.owned].join(', ')}`,
      );
    }
  }

  state(): ConsumerState {
    return {
      stream: this.definition.stream,
      group: this.definition.group,
      consumer: this.runtime.consumerName,
      running: this.reading,
      inFlight: this.owned.size,
      lastError: this.lastError,
      waitingForRedis: this.redisWait.state(),
    };
  }

  private async runReadLoop(): Promise<void> {
    const { batchSize, blockMs } = this.definition;
    let groupReady = false;
    let failures = 0;
    // A read sent ahead (with `prefetch`), before the entries of the last one were dispatched.
    let ahead: SentRead | undefined;
    this.reading = true;
    try {
      while (!this.stopping) {
        try {
          let read = ahead;
          ahead = undefined;
          if (!read) {
            // On the hot path nothing below waits when it need not: with room to read ahead
            // (`prefetch`), the next read leaves in the same turn as the entries of the last one
            // were handed to their handlers, and Redis answers it while they run.
            // Wait quietly for the connections while they come up, instead of failing the first read.
            if (this.blocking!.status !== 'ready') {
              await this.connections.whenReady(this.blocking!, blockMs + 1_000);
            }
            if (this.redis.status !== 'ready') {
              await this.connections.whenReady(this.redis, blockMs + 1_000);
            }
            if (!groupReady) groupReady = await this.ensureGroup();
            if (this.ownPending.unknown) await this.recoverOwnPending();
            if (!this.hasRoom(this.readLowWater)) await this.waitForRoom(this.readLowWater);
            if (this.stopping) break;
            // Old work first: due retries and abandoned entries get free slots before new entries,
            // or a busy consumer would never find a slot for them.
            if (this.oldWorkMayBeDue()) await this.takeOldWork();
            if (this.definition.prefetch === 0) {
              // No read ahead: handlers finishing in this turn of the event loop queue their
              // acknowledgements first, so that they leave with the read, in one write.
              this.acks.holdForRead();
              await yieldTurn();
            }
            const count = Math.min(batchSize, this.room());
            if (count <= 0 || this.stopping) {
              this.acks.takeInto(undefined);
              continue;
            }
            read = this.sendRead(count);
          }
          const { sentAt } = read;
          const [readError, reply] = await read.reply;
          if (readError) throw readError;
          if (reply === null && Date.now() - sentAt >= blockMs + 900) {
            // Not even the end of the BLOCK came back: the client's own timeout ended the read,
            // so the connection is open but dead. Open a new one; later replies on the old one
            // would no longer match their commands.
            this.logger.warn(
              `No answer from Redis on the read connection for ${Date.now() - sentAt} ms; reconnecting it`,
            );
            this.blocking!.disconnect(true);
            this.ownPending.unknown = true;
            continue;
          }
          failures = 0;
          this.lastError = undefined;
          const received = (reply ?? []) as Array<[string, unknown[]]>;
          const count = received.reduce((sum, [, entries]) => sum + entries.length, 0);
          // With room to read ahead, the next read leaves before these entries are handled, so
          // Redis answers it while they run. Room counts these entries as already taken.
          const next = Math.min(batchSize, this.room() - count);
          if (
            this.definition.prefetch > 0 &&
            count > 0 &&
            next >= this.readLowWater &&
            !this.stopping &&
            this.blocking!.status === 'ready' &&
            !this.oldWorkMayBeDue()
          ) {
            ahead = this.sendRead(next);
          }
          for (const [, entries] of received) {
            for (const item of entries) {
              const entry = fromTextReply(item);
              if (!entry) continue;
              if (this.held.length === 0 && this.available() > 0) this.dispatch(entry, 1, false);
              else this.held.push({ entry, attempt: 1, tracked: false });
            }
            if (entries.length > 0)
              this.groupPosition = (entries[entries.length - 1] as [string])[0];
          }
          this.startHeld();
          // Handlers finishing now acknowledge with the next read sent ahead, in its write (as
          // without prefetch), instead of in one more write of their own.
          if (ahead) this.acks.holdForRead(ACK_HOLD_MS);
        } catch (error) {
          // Acknowledgements held for a read that failed before it left go out on their own.
          this.acks.takeInto(undefined);
          // A read sent ahead of one that failed fails too, or delivers: let it finish either way.
          if (ahead) await ahead.reply;
          ahead = undefined;
          if (this.stopping) break;
          const message = (error as Error).message;
          if (message.includes('NOGROUP')) {
            // The stream or group was deleted while running: create it again and carry on.
            this.logger.warn(`Group is gone (${message}); creating it again`);
            groupReady = false;
            continue;
          }
          this.noteError(`read failed: ${message}`);
          // Its reply may be lost after Redis delivered entries to this consumer.
          this.ownPending.unknown = true;
          failures += 1;
          await this.pause(
            Math.min(
              DEFAULTS.reconnectBaseDelayMs * 2 ** Math.min(failures, 10),
              DEFAULTS.reconnectMaxDelayMs,
            ),
          );
        }
      }
    } finally {
      this.acks.takeInto(undefined);
      this.reading = false;
    }
  }

  /**
   * Sends one read (with the queued acknowledgements ahead of it) on the read connection. Until
   * its reply is in, its entries count against the room for more reads (`requested`).
   */
  private sendRead(count: number): SentRead {
    const { stream, group, blockMs } = this.definition;
    const redis = this.blocking!;
    // Read as text, which costs less than bytes; see fromTextReply for values that are not.
    const reply = writeTogether(redis, () => {
      this.acks.takeInto(redis, blockMs + 1_000);
      return redis.xreadgroup(
        'GROUP',
        group,
        this.runtime.consumerName,
        'COUNT',
        count,
        'BLOCK',
        blockMs,
        'STREAMS',
        stream,
        '>',
      );
    });
    this.requested += count;
    return {
      sentAt: Date.now(),
      reply: settled(reply).finally(() => (this.requested -= count)),
    };
  }

  /**
   * Creates the group unless it exists: the first time where the handler asks (`startFrom`); once
   * it vanished while running, at the position this consumer knew, so that only what came after is
   * delivered, not everything retained, which would be replayed well past a receiver's dedup window.
   */
  private async ensureGroup(): Promise<boolean> {
    const { stream, group, startFrom } = this.definition;
    const recreating = this.groupPosition !== undefined;
    const start = this.groupPosition ?? (startFrom === 'new' ? '$' : '0');
    const [created, position] = await ENSURE_GROUP.run<[number, Buffer]>(
      this.redis,
      [stream, this.keys.retries, this.keys.attempts],
      [group, start],
    );
    if (created === 1 && recreating) {
      this.logger.warn(`Created the vanished consumer group again, after entry ${start}`);
    } else if (created === 1) {
      this.logger.log(
        `Created consumer group, starting at ${startFrom === 'new' ? 'new entries' : 'the beginning'}`,
      );
    }
    this.groupPosition = position.toString();
    return true;
  }

  /**
   * Takes back this consumer's own pending entries that it does not hold (see OwnPending) and
   * starts them as slots free up; meanwhile they wait in `held`, leased.
   */
  private async recoverOwnPending(): Promise<void> {
    this.ownPending.unknown = false;
    let start = '-';
    try {
      do {
        // What it holds is read once no other claim is under way, so nothing claimed is left out.
        const batch = await this.claimingOldWork(() =>
          this.ownPending.takeBack(start, this.definition.batchSize, [
            ...this.owned,
            ...this.held.map(({ entry }) => entry.id),
          ]),
        );
        this.claimed(batch, 'Took back', 'of its own pending entries');
        this.held.push(...batch.entries);
        await this.startHeldInTurn();
        start = batch.next;
      } while (start !== '0' && !this.stopping);
    } catch (error) {
      this.ownPending.unknown = true;
      throw error;
    }
  }

  /** Runs RECLAIM once: claims idle pending entries that wait for no retry, dropping those deleted from the stream. */
  private async reclaim(minIdleMs: number, start: string, count: number): Promise<ClaimedBatch> {
    const { stream, group } = this.definition;
    const batch = claimedBatch(
      await RECLAIM.run(
        this.redis,
        [stream, this.keys.retries, this.keys.attempts, this.claimKey()],
        [group, this.runtime.consumerName, minIdleMs, start, count, this.runtime.claimMinIdleMs],
      ),
    );
    this.claimed(batch, 'Claimed', 'entries abandoned by stopped consumers');
    if (batch.entries.length > 0) {
      this.events.emit('reclaimed', { stream, group, count: batch.entries.length });
    }
    return batch;
  }

  /** Remembers each claimed entry's delivery, and logs what a claim took and dropped. */
  private claimed({ entries, gone }: ClaimedBatch, verb: string, what: string): void {
    for (const { entry, delivery } of entries) {
      if (delivery !== undefined) this.deliveries.set(entry, delivery);
    }
    if (gone.length > 0) {
      this.logger.warn(
        `Dropped ${gone.length} pending entries that were deleted from the stream (${this.where()}): ${gone.join(', ')}`,
      );
    }
    if (entries.length > 0) {
      this.logger.log(
        `${verb} ${entries.length} ${what} (${this.where()}): ` +
          entries.map(({ entry, attempt }) => `${entry.id} attempt=${attempt}`).join(', '),
      );
    }
  }

  /**
   * Runs the handler for an entry this consumer now owns. An entry already running here is not
   * started twice, except a due retry (`afterCurrent`): a retry can fall due before the failed
   * attempt that scheduled it has finished its bookkeeping, and then runs right after it.
   */
  private dispatch(entry: RawEntry, attempt: number, tracked: boolean, afterCurrent = false): void {
    if (this.owned.has(entry.id)) {
      if (afterCurrent) this.deferred.set(entry.id, { entry, attempt, tracked });
      return;
    }
    this.owned.add(entry.id);
    // process() cleans up after itself (finished), so no promise is chained on it here.
    void this.process(entry, attempt, tracked);
  }

  private finished(id: string): void {
    this.owned.delete(id);
    this.runningEvents.delete(id);
    const next = this.deferred.get(id);
    if (next) {
      this.deferred.delete(id);
      this.dispatch(next.entry, next.attempt, next.tracked);
    }
    this.releaseSlot();
    if (this.owned.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /**
   * Runs one entry to its outcome. Redis failing on the way (a call the library makes for the
   * entry, or a handler's own Redis call that `isInfrastructureError` recognises) is no failure
   * of the entry: it stays owned and pending, spends no attempt, and runs again after a wait.
   */
  private async process(entry: RawEntry, attempt: number, tracked: boolean): Promise<void> {
    let handedOff = false;
    let waiting = false;
    try {
      const { stream, group, dto } = this.definition;
      let eventId = entry.id;
      let durationMs: number;
      for (;;) {
        try {
          if (waiting && !(await this.stillCurrent(entry))) {
            this.notCurrent('run again', this.where(entry.id, eventId, attempt));
            return;
          }
          if (mayHaveLostBytes(entry)) entry = await this.readAsBytes(entry);
          const decoded = decodeEntry(entry, this.runtime.maxValueBytes, this.definition.rawFields);
          eventId = decoded.eventId;
          if (
            this.definition.idempotencyWindowMs &&
            !(await this.takeEvent(entry, eventId, attempt, tracked))
          ) {
            return;
          }
          const payload = dto ? await validatePayload(dto, decoded.payload) : decoded.payload;
          const message = {
            id: entry.id,
            stream,
            group,
            consumer: this.runtime.consumerName,
            eventId,
            attempt,
            fields: decoded.fields,
          };
          const started = performance.now();
          if (tracingEnabled()) {
            await withHandleSpan(decoded.fields, message, () =>
              this.definition.handle(payload, message),
            );
          } else {
            const returned = this.definition.handle(payload, message);
            // A handler that returned no promise is done: no need to wait a turn for it.
            if (isThenable(returned)) await returned;
          }
          durationMs = performance.now() - started;
          break;
        } catch (error) {
          if (!isInfrastructureError(error)) {
            await this.handleFailure(entry, attempt, eventId, error);
            return;
          }
          const first = !waiting;
          waiting = true;
          if (!(await this.waitForRedis(entry.id, eventId, attempt, error, first))) {
            await this.releaseEvent(entry.id).catch(() => undefined);
            await this.handBack([{ entry, attempt, tracked }], 'waiting for Redis');
            return;
          }
        }
      }
      // The handler is done: its slot is free for the next entry while the acknowledgement goes
      // out (with the next read, see AckBatcher). The entry stays owned until Redis confirms.
      this.acking += 1;
      this.releaseSlot();
      const job: Acking = { id: entry.id, attempt, eventId, durationMs, tracked };
      if (!tracked && !this.definition.idempotencyWindowMs) {
        // The hot path: the batch's outcome reaches `batchAcknowledged`, without a promise or a
        // suspended call per entry; the entry is finished there.
        this.acks.ackThen(entry.id, job);
        handedOff = true;
        return;
      }
      let acknowledged = false;
      try {
        await this.ack(entry.id, tracked, eventId);
        acknowledged = true;
      } catch {
        await this.acknowledgeAgain(job);
      }
      if (acknowledged) this.acknowledged(job);
    } catch (error) {
      this.logger.error(
        `Unexpected failure processing (${this.where(entry.id, undefined, attempt)}): ${(error as Error).message}`,
      );
      this.ownPending.unknown = true;
    } finally {
      if (waiting) this.doneWaiting();
      if (!handedOff) this.finished(entry.id);
    }
  }

  /**
   * For idempotent handlers: takes the right to run the handler for this eventId. False when the
   * entry is settled without running: handled before (acknowledged now), or running elsewhere
   * right now (looked at again shortly, without spending an attempt).
   */
  private async takeEvent(
    entry: RawEntry,
    eventId: string,
    attempt: number,
    tracked: boolean,
  ): Promise<boolean> {
    const { id } = entry;
    let claim: 'run' | 'done' | 'busy';
    try {
      claim = await this.claimEvent(id, eventId);
    } catch (error) {
      throw new InfrastructureError('claim the eventId', { cause: error });
    }
    if (claim === 'run') {
      this.runningEvents.set(id, eventId);
      return true;
    }
    const context = (): string => this.where(id, eventId, attempt);
    if (claim === 'done') {
      this.logger.log(`Skipping, already handled (${context()})`);
      await this.persist('acknowledge', context, () => this.ack(id, tracked));
    } else {
      const dueAt = Date.now() + this.busyRetryMs();
      await this.persist('defer', context, () => this.scheduleRetry(entry, attempt - 1, dueAt));
    }
    return false;
  }

  /**
   * An entry read as text with a value that is not UTF-8 is read again as bytes, so that it is
   * dead-lettered byte for byte. Deleted in between, the text is all there is.
   */
  private async readAsBytes(text: RawEntry): Promise<RawEntry> {
    try {
      const [reply] = await this.redis.xrangeBuffer(this.definition.stream, text.id, text.id);
      const bytes = reply && toRawEntry(reply);
      if (!bytes) return text;
      // Still the same delivery, which its failure is settled for.
      const delivery = this.deliveries.get(text);
      if (delivery !== undefined) this.deliveries.set(bytes, delivery);
      return bytes;
    } catch (error) {
      throw new InfrastructureError('read the entry again as bytes', { cause: error });
    }
  }

  /**
   * Redis failed a call made for this entry: it stays pending and owned (its lease kept), spends
   * no attempt and waits (see RedisWait) before it runs again. False when the consumer stops.
   */
  private async waitForRedis(
    id: string,
    eventId: string,
    attempt: number,
    error: unknown,
    first: boolean,
  ): Promise<boolean> {
    const { stream, group } = this.definition;
    const spellBegins = !this.redisWait.active;
    const delayMs = this.redisWait.failed(error, first);
    this.events.emit('infrastructureFailed', { stream, group });
    if (spellBegins) {
      this.logger.warn(
        `Redis failed a call for an entry (${this.where(id, eventId, attempt)}): ${describeError(error)}; ` +
          'entries wait for Redis, pending, without spending attempts',
      );
    }
    if (this.stopping) return false;
    await this.pause(delayMs);
    return !this.stopping;
  }

  private doneWaiting(): void {
    this.redisWait.done();
    if (!this.redisWait.active) {
      this.logger.log(`Redis serves the calls for entries again (${this.where()})`);
    }
  }

  /**
   * Gives entries this consumer holds and will not run back to the group, as retries due now with
   * the attempts they had, so that the next consumer to look takes them without counting one for
   * them. SCHEDULE_RETRY checks they are still this consumer's. What Redis refuses stays pending
   * and is reclaimed later, counting one attempt, as for a crash.
   */
  private async handBack(deliveries: Delivery[], what: string): Promise<void> {
    if (deliveries.length === 0) return;
    const outcomes = await Promise.all(
      deliveries.map(({ entry, attempt }) =>
        settled(this.scheduleRetry(entry, attempt - 1, Date.now())),
      ),
    );
    const refused = outcomes.filter(([error]) => error !== null);
    const ids = deliveries.map(({ entry }) => entry.id).join(', ');
    this.logger.log(
      `Shutdown: ${deliveries.length - refused.length} entries ${what} handed back to the group, no attempt spent (${this.where()}): ${ids}`,
    );
    if (refused.length > 0) {
      this.logger.warn(
        `Shutdown: ${refused.length} entries ${what} could not be handed back and stay pending (${this.where()}): ${refused[0][0]!.message}`,
      );
    }
  }

  /** How a batch of hot-path acknowledgements went: each entry is done, or acknowledged again. */
  private batchAcknowledged(jobs: Acking[], error: unknown): void {
    for (const job of jobs) {
      if (!error) {
        this.acknowledged(job);
        this.finished(job.id);
        continue;
      }
      this.acknowledgeAgain(job)
        .catch((failure: unknown) =>
          this.logger.error(
            `Unexpected failure acknowledging (${this.where(job.id, job.eventId, job.attempt)}): ${(failure as Error).message}`,
          ),
        )
        .finally(() => this.finished(job.id));
    }
  }

  /**
   * The acknowledgement failed: tries again for a few seconds (`persist`); if it still fails the
   * entry stays pending and is delivered again later.
   */
  private async acknowledgeAgain(job: Acking): Promise<void> {
    const { id, attempt, eventId, tracked } = job;
    const acked = await this.persist(
      'acknowledge',
      () => this.where(id, eventId, attempt),
      () => this.ack(id, tracked, eventId),
    );
    if (acked) this.acknowledged(job);
    else this.acking -= 1;
  }

  /** Redis has the acknowledgement: the entry no longer waits for it, and it is reported handled. */
  private acknowledged({ id, durationMs }: Acking): void {
    this.acking -= 1;
    const { stream, group } = this.definition;
    this.events.emit('handled', {
      stream,
      group,
      durationMs,
      latencyMs: Date.now() - streamIdTimeMs(id),
    });
  }

  /**
   * XACK alone on the hot path; the script when there is retry bookkeeping to clear (`tracked`)
   * or a handled event to record.
   */
  private ack(id: string, tracked: boolean, handledEventId?: string): Promise<unknown> {
    const { stream, group, idempotencyWindowMs } = this.definition;
    const idempotent = idempotencyWindowMs && handledEventId;
    if (!tracked && !idempotent) return this.acks.ack(id);
    const keys = [stream, this.keys.retries, this.keys.attempts];
    if (idempotent) {
      return ACK.run(
        this.redis,
        [...keys, streamKeys.done(stream, group, handledEventId)],
        [group, id, idempotencyWindowMs],
      );
    }
    return ACK.run(this.redis, keys, [group, id]);
  }

  private async claimEvent(id: string, eventId: string): Promise<'run' | 'done' | 'busy'> {
    const { stream, group } = this.definition;
    const reply = await CLAIM_EVENT.run<Buffer>(
      this.redis,
      [streamKeys.done(stream, group, eventId)],
      [`running:${id}`, this.eventLeaseMs()],
    );
    return reply.toString() as 'run' | 'done' | 'busy';
  }

  /** After a failed attempt of an idempotent handler, let the next attempt (of any delivery) run. */
  private async releaseEvent(id: string): Promise<void> {
    const eventId = this.runningEvents.get(id);
    if (eventId === undefined) return;
    const { stream, group } = this.definition;
    await RELEASE_EVENT.run(
      this.redis,
      [streamKeys.done(stream, group, eventId)],
      [`running:${id}`],
    );
  }

  /** How long a running-marker lives without renewal: long enough to outlast a claim of the entry. */
  private eventLeaseMs(): number {
    return this.runtime.claimMinIdleMs * 2;
  }

  private busyRetryMs(): number {
    return Math.min(Math.max(Math.floor(this.runtime.claimMinIdleMs / 10), 100), 1_000);
  }

  /** Schedules a retry of this delivery of `entry`; a delivery no longer current schedules nothing. */
  private scheduleRetry(entry: RawEntry, attemptsSpent: number, dueAt: number): Promise<unknown> {
    const { stream, group } = this.definition;
    return SCHEDULE_RETRY.run(
      this.redis,
      [stream, this.keys.retries, this.keys.attempts],
      [group, this.runtime.consumerName, this.deliveryOf(entry), entry.id, dueAt, attemptsSpent],
    );
  }

  /**
   * Whether this delivery of `entry` is still this consumer's (see STILL_CURRENT), renewing its
   * lease: after waiting for Redis, another consumer may have claimed and settled the entry.
   */
  private async stillCurrent(entry: RawEntry): Promise<boolean> {
    const { stream, group } = this.definition;
    try {
      const current = await STILL_CURRENT.run<number>(
        this.redis,
        [stream],
        [group, this.runtime.consumerName, this.deliveryOf(entry), entry.id],
      );
      return current === 1;
    } catch (error) {
      throw new InfrastructureError('check the delivery is still current', { cause: error });
    }
  }

  private deliveryOf(entry: RawEntry): number {
    return this.deliveries.get(entry) ?? 1;
  }

  /** A claim key of its own for each RECLAIM and TAKE_DUE_RETRIES call (see stream-scripts.ts). */
  private claimKey(): string {
    const { stream, group } = this.definition;
    this.claims += 1;
    return streamKeys.claim(stream, group, `${this.claimPrefix}.${this.claims}`);
  }

  private async handleFailure(
    entry: RawEntry,
    attempt: number,
    eventId: string,
    error: unknown,
  ): Promise<void> {
    const { stream, group, policy } = this.definition;
    const reason = describeError(error);
    const context = this.where(entry.id, eventId, attempt);
    await this.persist(
      'release the eventId',
      () => context,
      () => this.releaseEvent(entry.id),
    );
    if (error instanceof NonRetryableError || policy.exhausted(attempt)) {
      const why =
        error instanceof NonRetryableError
          ? reason
          : `gave up after ${attempt} attempts: ${reason}`;
      this.logger.warn(`Dead-lettering (${context}): ${why}`);
      let written = false;
      if (
        await this.persist(
          'dead-letter',
          () => context,
          async () => (written = (await this.deadLetter(entry, attempt, why)) !== null),
        )
      ) {
        if (!written) this.notCurrent('dead-lettered', context);
        else {
          this.events.emit('failed', { stream, group, attempt, retrying: false });
          this.events.emit('deadLettered', { stream, group });
        }
      }
      return;
    }
    const delay = policy.delayMs(attempt);
    const dueAt = Date.now() + delay;
    this.logger.warn(`Attempt failed (${context}), retrying in ${delay} ms: ${reason}`);
    let scheduled = false;
    if (
      await this.persist(
        'schedule a retry',
        () => context,
        async () => (scheduled = (await this.scheduleRetry(entry, attempt, dueAt)) === 1),
      )
    ) {
      if (!scheduled) this.notCurrent('retried', context);
      else this.events.emit('failed', { stream, group, attempt, retrying: true });
    }
  }

  /** The entry was finished elsewhere, or handed to another delivery that now settles it. */
  private notCurrent(what: string, context: string): void {
    this.logger.warn(
      `Not ${what} (${context}): this delivery is no longer current, the entry was finished or claimed elsewhere`,
    );
  }

  /**
   * Copies the entry with its failure to the dead-letter stream and acknowledges it, in one script,
   * for this delivery only. Returns the dead-letter entry id, or null when nothing was written.
   */
  private deadLetter(entry: RawEntry, attempt: number, reason: string): Promise<unknown> {
    const { stream, group } = this.definition;
    return DEAD_LETTER.run(
      this.redis,
      [stream, this.keys.deadLetter, this.keys.retries, this.keys.attempts],
      [
        group,
        this.runtime.consumerName,
        this.deliveryOf(entry),
        entry.id,
        ...deadLetterFields(entry, {
          reason,
          attempt,
          group,
          consumer: this.runtime.consumerName,
          stream,
        }),
      ],
    );
  }

  /**
   * Runs a bookkeeping write, trying again for a few seconds if Redis is briefly away. If it still
   * fails, the entry stays pending under this consumer, which takes it back (recoverOwnPending)
   * and runs it again: at least once, never lost. Returns whether the write happened.
   */
  private async persist(
    what: string,
    context: () => string,
    write: () => Promise<unknown>,
  ): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await write();
        return true;
      } catch (error) {
        if (attempt >= 6) {
          this.logger.error(
            `Could not ${what} (${context()}): ${(error as Error).message}; the entry stays pending and will be redelivered`,
          );
          const { stream, group } = this.definition;
          this.events.emit('infrastructureFailed', { stream, group });
          this.ownPending.unknown = true;
          return false;
        }
        await sleep(Math.min(100 * 2 ** attempt, DEFAULTS.reconnectMaxDelayMs));
      }
    }
  }

  private scheduleMaintenance(): void {
    const tickMs = this.tickMs;
    const run = async (): Promise<void> => {
      try {
        await this.maintain();
      } catch (error) {
        this.noteError(`maintenance failed: ${(error as Error).message}`);
      }
      if (!this.stopped) this.maintenanceTimer = setTimeout(run, tickMs);
    };
    this.maintenanceTimer = setTimeout(run, tickMs);
  }

  /** One tick: extend leases of running work, and take old work while this consumer is idle. */
  private async maintain(): Promise<void> {
    const { stream, group } = this.definition;
    const now = Date.now();
    if (now >= this.nextLeaseAt && this.owned.size + this.held.length > 0) {
      this.nextLeaseAt = now + Math.max(Math.floor(this.runtime.claimMinIdleMs / 3), 100);
      await EXTEND_LEASE.run(
        this.redis,
        [stream],
        [group, this.runtime.consumerName, ...this.owned, ...this.held.map((d) => d.entry.id)],
      );
      await this.renewEventMarkers();
    }
    if (!this.stopping) await this.takeOldWork();
    if (!this.stopping && this.groupPosition !== undefined) await this.housekeeping.runIfDue(now);
  }

  /**
   * Takes due retries and, now and then, entries abandoned by stopped consumers, into the free
   * slots. The slots are reserved across the round trip so the read loop cannot fill them too.
   * Runs from the maintenance tick (idle consumer) and before each read (busy consumer).
   */
  private async takeOldWork(): Promise<void> {
    // Nothing is claimed before the read loop has learnt when this run began (see OwnPending).
    if (this.oldWork || this.stopping || !this.ownPending.begun) return;
    try {
      await this.claimingOldWork(async () => {
        const now = Date.now();
        if (now >= this.nextRetryAt)
          await this.withSlots(this.available(), (free) => this.takeDueRetries(now, free));
        if (now >= this.nextReclaimAt) {
          await this.withSlots(Math.min(this.available(), DEFAULTS.reclaimBatch), (free) =>
            this.reclaimAbandoned(now, free),
          );
        }
      });
    } catch (error) {
      // Never in the read loop's way: a failure here (Redis away, stream deleted) is retried next time.
      this.noteError(`taking retries or abandoned work failed: ${(error as Error).message}`);
      // Its claim may have run in Redis, its reply lost: the read loop takes such entries back.
      this.ownPending.unknown = true;
    } finally {
      this.startHeld();
    }
  }

  /**
   * Runs `claim` alone among the calls that claim old work (due retries, abandoned and own pending
   * entries), so that none of them claims an entry that another is about to hand over.
   */
  private async claimingOldWork<T>(claim: () => Promise<T>): Promise<T> {
    while (this.oldWork) await this.oldWork;
    let done!: () => void;
    this.oldWork = new Promise<void>((resolve) => (done = resolve));
    try {
      return await claim();
    } finally {
      this.oldWork = undefined;
      done();
    }
  }

  /** Reserves up to `count` slots while `take` runs; `take` dispatches into them. */
  private async withSlots(count: number, take: (free: number) => Promise<void>): Promise<void> {
    if (count <= 0) return;
    this.reserved += count;
    try {
      await take(count);
    } finally {
      this.reserved -= count;
      // Slots not used are free again: wake the read loop if it waits for one.
      this.releaseSlot();
    }
  }

  private async takeDueRetries(now: number, free: number): Promise<void> {
    const { stream, group } = this.definition;
    const [claimed, attempts, gone, deliveries] = await TAKE_DUE_RETRIES.run<
      [unknown[], number[], Buffer[], number[]]
    >(
      this.redis,
      [stream, this.keys.retries, this.keys.attempts, this.claimKey()],
      [group, this.runtime.consumerName, now, free, this.runtime.claimMinIdleMs],
    );
    // A full batch means more may be due: look again at once rather than after a tick.
    this.nextRetryAt = claimed.length >= free ? now : now + this.tickMs;
    if (gone.length > 0) {
      this.logger.debug?.(
        `Retries no longer pending, done elsewhere or trimmed (${this.where()}): ${gone.join(', ')}`,
      );
    }
    const entries = claimed.map((reply, i) => {
      const entry = toRawEntry(reply);
      if (entry) this.deliveries.set(entry, deliveries[i]);
      return { entry, attempt: Number(attempts[i]) + 1 };
    });
    for (const { entry, attempt } of entries) if (entry) this.dispatch(entry, attempt, true, true);
    if (claimed.length > 0) this.events.emit('retried', { stream, group, count: claimed.length });
  }

  private async reclaimAbandoned(now: number, free: number): Promise<void> {
    const claimMinIdle = this.runtime.claimMinIdleMs;
    this.nextReclaimAt = now + Math.min(Math.max(Math.floor(claimMinIdle / 2), 100), 5_000);
    const batch = await this.reclaim(claimMinIdle, this.reclaimStart, free);
    this.reclaimStart = batch.next === '0' ? '-' : batch.next;
    // More abandoned entries wait beyond this batch: take them with the next free slots, before
    // new entries, instead of one batch per interval.
    if (batch.next !== '0') this.nextReclaimAt = now;
    for (const { entry, attempt } of batch.entries) this.dispatch(entry, attempt, true);
  }

  /** Keeps the running-markers of long idempotent handlers from expiring under them. */
  private async renewEventMarkers(): Promise<void> {
    if (this.runningEvents.size === 0) return;
    const { stream, group } = this.definition;
    const pipeline = this.redis.pipeline();
    for (const [id, eventId] of this.runningEvents) {
      CLAIM_EVENT.queue(
        pipeline,
        [streamKeys.done(stream, group, eventId)],
        [`running:${id}`, this.eventLeaseMs()],
      );
    }
    await pipeline.exec();
  }

  /** The context every message-related log line carries. */
  private where(entryId?: string, eventId?: string, attempt?: number): string {
    const { stream, group } = this.definition;
    let text = `stream=${stream} group=${group}`;
    if (entryId !== undefined) text += ` entry=${entryId}`;
    if (eventId !== undefined) text += ` eventId=${eventId}`;
    if (attempt !== undefined) text += ` attempt=${attempt}`;
    return text;
  }

  /**
   * Slots neither running a handler nor reserved for old work being taken. Entries waiting only
   * for their acknowledgement hold no slot, up to one batch of `concurrency` of them, which bounds
   * what is held in memory at twice `concurrency`.
   */
  private available(): number {
    const { concurrency } = this.definition;
    return concurrency - this.owned.size + Math.min(this.acking, concurrency) - this.reserved;
  }

  /**
   * How many entries a read may take now: free slots, plus room left for reading ahead.
   * Everything held (running, reserved, read ahead) stays within concurrency + prefetch.
   */
  private room(): number {
    return this.available() + this.definition.prefetch - this.held.length - this.requested;
  }

  /** Whether a read may take `minimum` entries now, or some while nothing runs. */
  private hasRoom(minimum: number): boolean {
    const room = this.room();
    return room >= minimum || (this.owned.size === 0 && room > 0);
  }

  /** Like waitForSlot, for the read loop: resolves once a read may take `minimum` entries. */
  private async waitForRoom(minimum: number): Promise<void> {
    while (!this.hasRoom(minimum) && !this.stopping) {
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
  }

  /**
   * Resolves once `minimum` slots are free, or one while nothing runs (or on stop): woken on every
   * release, it checks again.
   */
  private async waitForSlot(minimum = 1): Promise<void> {
    const enough = (): boolean =>
      this.available() >= minimum || (this.owned.size === 0 && this.available() > 0);
    while (!enough() && !this.stopping) {
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
  }

  private releaseSlot(): void {
    if (this.held.length > 0) this.startHeld();
    if (this.slotWaiters.length === 0) return;
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Starts held entries in free slots. Old work (due retries, abandoned entries) goes first: while
   * some may be due, the free slots are left to takeOldWork, which runs before each read.
   */
  private startHeld(): void {
    if (this.stopping) return;
    while (this.held.length > 0 && this.available() > 0 && !this.oldWorkMayBeDue()) {
      const { entry, attempt, tracked } = this.held.shift()!;
      this.dispatch(entry, attempt, tracked);
    }
  }

  /** Starts every held entry as slots free up, oldest first; the read loop waits meanwhile. */
  private async startHeldInTurn(): Promise<void> {
    while (this.held.length > 0 && !this.stopping) {
      await this.waitForSlot();
      const next = this.stopping ? undefined : this.held.shift();
      if (next) this.dispatch(next.entry, next.attempt, next.tracked);
    }
  }

  private oldWorkMayBeDue(): boolean {
    const now = Date.now();
    return this.oldWork !== undefined || now >= this.nextRetryAt || now >= this.nextReclaimAt;
  }

  /** Waits, but wakes at once on stop. */
  private pause(ms: number): Promise<void> {
    return pauseUnlessAborted(ms, this.stopController.signal);
  }

  private noteError(message: string): void {
    if (message !== this.lastError) this.logger.warn(message);
    this.lastError = message;
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * How long acknowledgements wait for the next read sent ahead to carry them: under load that read
 * leaves within a millisecond or two; when the stream is drained it may not leave until its BLOCK
 * ends, and the acknowledgements go out alone.
 */
const ACK_HOLD_MS = 5;

/** Lets the rest of this turn of the event loop run (I/O callbacks, other handlers) first. */
function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}

/** A handled entry whose acknowledgement is on its way. */
interface Acking {
  id: string;
  attempt: number;
  eventId: string;
  durationMs: number;
  tracked: boolean;
}

interface SentRead {
  sentAt: number;
  /** The read's error or reply (never rejects). */
  reply: Promise<[Error | null, unknown]>;
}
