import { Logger } from '@nestjs/common';
import type { ConsumerState, ConsumerStateSource } from '../redis-streams.status.js';
import type { RedisClient, RedisConnections } from '../redis/redis-connections.js';
import type { Delivery } from './own-pending.js';
import { GroupHousekeeping } from './group-housekeeping.js';
import type { StreamEvents } from '../stream-events.js';
import { pauseUnlessAborted, reconnectDelayMs, settledWithin, yieldTurn } from '../util/waits.js';
import { Ticker } from '../util/ticker.js';
import { Capacity } from './capacity.js';
import { BatchCollector, batchingInvoker } from './batch-collector.js';
import type { ConsumerDefinition, ConsumerRuntime } from './consumer-definition.js';
import { busyDelayMs } from './decide.js';
import { FlowGate } from './flow-gate.js';
import { EventClaims } from './event-claims.js';
import { ACK_HOLD_MS, GroupReader, type SentRead } from './group-reader.js';
import { GroupSettler } from './group-settler.js';
import { HandlerInvoker } from './handler-invoker.js';
import { GroupEntryRunner } from './group-entry-runner.js';
import { LeaseKeeper } from './lease-keeper.js';
import { logContext } from './log-context.js';
import { OldWork } from './old-work.js';
import { RedisWaits } from './redis-waits.js';

/**
 * One consumer group's consumer in this instance: wires the parts of the delivery pipeline.
 * - GroupReader reads new entries (with read-ahead, `prefetch`), OldWork claims due retries,
 *   abandoned and own pending entries, and Capacity decides how many may run or wait in memory.
 * - Each entry runs through HandlerInvoker (decode, idempotency claim, validation, span, handler),
 *   FlowGate judges the outcome (`decide`, then busy signals, circuit and deadline), and
 *   GroupSettler carries the decision out in Redis. FlowGate also limits how many calls run.
 * - A maintenance tick keeps leases (LeaseKeeper), takes old work while idle, and runs the group's
 *   housekeeping.
 * Redis failing a call made for an entry is no failure of the entry: it stays owned and pending,
 * spends no attempt, and runs again after a consumer-wide wait (RedisWait).
 */
export class StreamConsumer implements ConsumerStateSource {
  private readonly logger: Logger;
  private readonly stopController = new AbortController();
  /** Aborts the handlers' signal: once the shutdown's drain time is up, not when it begins. */
  private readonly handlersStop = new AbortController();
  private readonly capacity: Capacity;
  private readonly gate: FlowGate;
  private readonly claims?: EventClaims;
  private readonly runner: GroupEntryRunner;
  private readonly settler: GroupSettler;
  private readonly reader: GroupReader;
  private readonly oldWork: OldWork;
  private readonly leases: LeaseKeeper;
  private readonly housekeeping: GroupHousekeeping;
  private readonly maintenance: Ticker;
  private readonly redisWaits: RedisWaits;
  /** A batch handler's batches (see StreamHandlerOptions.batch). */
  private readonly batches?: BatchCollector;
  /** Due retries of entries whose previous attempt is still finishing here. */
  private readonly deferred = new Map<string, Delivery>();
  /** Read again once half a batch of slots is free, not after each handler: fewer, fuller reads. */
  private readonly readLowWater: number;
  private readLoop?: Promise<void>;
  private reading = false;
  private stopping = false;
  private lastError?: string;

  constructor(
    private readonly definition: ConsumerDefinition,
    private readonly runtime: ConsumerRuntime,
    private readonly connections: RedisConnections,
    private readonly events: StreamEvents,
  ) {
    const { stream, group, batchSize, concurrency, prefetch, policy, batch } = definition;
    this.logger = new Logger(`StreamConsumer ${stream}/${group}`);
    const redis = (): RedisClient => this.connections.command;
    const context = { definition, runtime, redis, events, logger: this.logger };
    this.gate = new FlowGate(context, definition.flow, () => {
      this.capacity.release();
      this.startHeld();
    });
    // A slot holds one entry; a batch handler's `concurrency` counts calls of up to maxSize each.
    const slots = batch ? concurrency * batch.maxSize : concurrency;
    this.capacity = batch
      ? new Capacity(slots, prefetch, () => this.gate.limit(concurrency) * batch.maxSize)
      : new Capacity(concurrency, prefetch, (all) => this.gate.limit(all));
    this.redisWaits = new RedisWaits(context, this.stopController.signal);
    if (definition.idempotencyWindowMs) {
      // A running-marker outlasts a claim of the entry, so a reclaimed delivery waits for it.
      this.claims = new EventClaims(redis, stream, group, runtime.claimMinIdleMs * 2);
    }
    this.settler = new GroupSettler(
      context,
      this.claims,
      () => (this.oldWork.ownPending.unknown = true),
      (id) => {
        this.capacity.ackDone();
        this.finish(id);
      },
    );
    if (batch) this.batches = new BatchCollector(definition, this.handlersStop.signal);
    this.runner = new GroupEntryRunner(
      context,
      this.batches
        ? batchingInvoker(context, this.batches, this.claims, this.handlersStop.signal)
        : new HandlerInvoker(context, this.claims, this.handlersStop.signal),
      this.gate,
      this.settler,
      this.redisWaits,
      busyDelayMs(runtime.claimMinIdleMs),
      () => {
        this.capacity.handlerDone();
        this.startHeld();
      },
      (id) => this.finish(id),
      () => (this.oldWork.ownPending.unknown = true),
    );
    this.reader = new GroupReader(
      context,
      connections,
      this.settler.acks,
      this.capacity,
      this.gate,
    );
    this.readLowWater = Math.max(1, Math.floor(Math.min(batchSize, slots) / 2));
    // Old work is looked for every quarter of the backoff base, within 25-500 ms.
    const tickMs = Math.min(Math.max(Math.floor(policy.backoff.baseMs / 4), 25), 500);
    this.oldWork = new OldWork(
      context,
      this.capacity,
      this.gate,
      tickMs,
      (delivery, afterCurrent) => this.dispatch(delivery, afterCurrent),
    );
    this.leases = new LeaseKeeper(context, this.capacity, this.claims);
    this.housekeeping = new GroupHousekeeping(redis, stream, group, runtime, this.logger);
    this.maintenance = new Ticker(
      tickMs,
      () => this.maintain(),
      (error) => this.noteError(`maintenance failed: ${(error as Error).message}`),
    );
  }

  start(): void {
    this.reader.open();
    this.readLoop = this.runReadLoop();
    this.maintenance.start();
  }

  /**
   * Stops reading, gives running handlers up to `timeoutMs` to finish and be acknowledged, and
   * leaves whatever is still running pending in Redis for another consumer.
   */
  async stop(timeoutMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopController.abort();
    // Batches being gathered go to the handler now, within the drain time, as running calls do.
    this.batches?.drain();
    this.capacity.release();
    this.reader.close();
    await this.readLoop;
    // Nothing starts from here on: what is held and not started goes back to the group now.
    const held = this.capacity.held.splice(0, this.capacity.held.length);
    await this.settler.handBack(held, 'held and not started');
    if (!(await settledWithin(this.capacity.whenIdle(), timeoutMs))) this.handlersStop.abort();
    // From here on even the leases of unfinished work lapse.
    this.maintenance.stop();
    this.gate.stop();
    const { owned } = this.capacity;
    if (owned.size > 0) {
      this.logger.warn(
        `Shutdown: ${owned.size} entries still running after ${timeoutMs} ms stay pending for another consumer (${this.where()}): ${[...owned].join(', ')}`,
      );
    }
  }

  state(): ConsumerState {
    return {
      stream: this.definition.stream,
      group: this.definition.group,
      consumer: this.runtime.consumerName,
      running: this.reading,
      inFlight: this.capacity.owned.size,
      lastError: this.lastError,
      waitingForRedis: this.redisWaits.state(),
      flow: this.gate.state(),
    };
  }

  private async runReadLoop(): Promise<void> {
    const { batchSize, prefetch } = this.definition;
    const { acks } = this.settler;
    let [groupReady, failures] = [false, 0];
    // A read sent ahead (with `prefetch`), before the entries of the last one were dispatched.
    let ahead: SentRead | undefined;
    let tokens = 0;
    this.reading = true;
    try {
      while (!this.stopping) {
        try {
          let read = ahead;
          ahead = undefined;
          if (!read) {
            await this.reader.whenReady();
            if (!groupReady) {
              await this.reader.position.ensure(this.connections.command);
              // Nothing starts before the group's flow state is known (paused, busy, open).
              await this.gate.refresh();
              groupReady = true;
            }
            if (this.oldWork.ownPending.unknown) await this.oldWork.recoverOwn(() => this.stopping);
            await this.capacity.waitForRoom(this.readLowWater, () => this.stopping);
            if (this.stopping) break;
            // Old work first: due retries and abandoned entries get free slots before new entries,
            // or a busy consumer would never find a slot for them.
            if (this.oldWork.mayBeDue()) await this.takeOldWork();
            if (prefetch === 0) {
              // No read ahead: handlers finishing in this turn of the event loop queue their
              // acknowledgements first, so that they leave with the read, in one write.
              acks.holdForRead();
              await yieldTurn();
            }
            let count = Math.min(batchSize, this.capacity.room());
            // Rate limited: read only as many as there are tokens for.
            if (count > 0 && this.gate.rated)
              tokens = count = await this.gate.tokensFor(count, this.pause);
            if (count <= 0 || this.stopping) {
              acks.takeInto(undefined);
              continue;
            }
            read = this.reader.send(count);
          }
          const entries = await this.reader.receive(read);
          if (tokens > 0 && entries !== 'lost') {
            void this.gate.giveBack(tokens - entries.length).catch(() => undefined);
          }
          tokens = 0;
          if (entries === 'lost') {
            this.oldWork.ownPending.unknown = true;
            continue;
          }
          failures = 0;
          this.lastError = undefined;
          // With room to read ahead, the next read leaves before these entries are handled, so
          // Redis answers it while they run. Room counts these entries as already taken.
          const next = Math.min(batchSize, this.capacity.room() - entries.length);
          if (
            prefetch > 0 &&
            !this.gate.rated &&
            entries.length > 0 &&
            next >= this.readLowWater &&
            !this.stopping &&
            this.reader.ready &&
            !this.oldWork.mayBeDue()
          ) {
            ahead = this.reader.send(next);
          }
          const { held } = this.capacity;
          for (const entry of entries) {
            const delivery = { entry, attempt: 1, tracked: false };
            if (held.length === 0 && this.capacity.available() > 0) this.dispatch(delivery);
            else held.push(delivery);
          }
          this.startHeld();
          // Handlers finishing now acknowledge with the next read sent ahead, in its write (as
          // without prefetch), instead of in one more write of their own.
          if (ahead) acks.holdForRead(ACK_HOLD_MS);
        } catch (error) {
          // Acknowledgements held for a read that failed before it left go out on their own.
          acks.takeInto(undefined);
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
          this.oldWork.ownPending.unknown = true;
          failures += 1;
          await this.pause(reconnectDelayMs(failures));
        }
      }
    } finally {
      acks.takeInto(undefined);
      this.reading = false;
    }
  }

  private async takeOldWork(): Promise<void> {
    await this.oldWork.take(this.stopping, (message) => this.noteError(message));
    this.startHeld();
  }

  /**
   * Runs the handler for an entry this consumer now owns. An entry already running here is not
   * started twice, except a due retry (`afterCurrent`): a retry can fall due before the failed
   * attempt that scheduled it has finished its bookkeeping, and then runs right after it.
   */
  private dispatch(delivery: Delivery, afterCurrent = false): void {
    if (!this.capacity.start(delivery.entry.id)) {
      if (afterCurrent) this.deferred.set(delivery.entry.id, delivery);
      return;
    }
    // The runner cleans up after itself (finish), so no promise is chained on it here.
    void this.runner.run(delivery);
  }

  private finish(id: string): void {
    this.claims?.forget(id);
    this.capacity.finish(id);
    const next = this.deferred.get(id);
    if (next) {
      this.deferred.delete(id);
      this.dispatch(next);
    }
    this.startHeld();
  }

  /** One tick: leases, the flow state (its failure holds nothing up), old work while idle, tidying. */
  private async maintain(): Promise<void> {
    const now = Date.now();
    await this.leases.renewIfDue(now);
    await this.gate.refresh().catch((e: Error) => this.noteError(`flow state: ${e.message}`));
    if (!this.stopping) await this.takeOldWork();
    if (!this.stopping && this.reader.position.known) await this.housekeeping.runIfDue(now);
  }

  /**
   * Starts held entries in free slots. Old work (due retries, abandoned entries) goes first: while
   * some may be due, the free slots are left to it, which runs before each read.
   */
  private startHeld(): void {
    const { held } = this.capacity;
    if (this.stopping) return;
    while (held.length > 0 && this.capacity.available() > 0 && !this.oldWork.mayBeDue()) {
      this.dispatch(held.shift()!);
    }
  }

  /** Waits, but wakes at once on stop. */
  private readonly pause = (ms: number): Promise<void> =>
    pauseUnlessAborted(ms, this.stopController.signal);

  private noteError(message: string): void {
    if (message !== this.lastError) this.logger.warn(message);
    this.lastError = message;
  }

  private where(entryId?: string, eventId?: string, attempt?: number): string {
    return logContext(this.definition.stream, this.definition.group, entryId, eventId, attempt);
  }
}
