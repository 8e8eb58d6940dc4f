import type { Logger } from '@nestjs/common';
import type { RedisClient, RedisConnections } from '../redis/redis-connections.js';
import type { StreamEvents } from '../stream-events.js';
import { streamIdTimeMs } from '../stream-id.js';
import { streamKeys } from '../stream-keys.js';
import { GroupHousekeeping } from './group-housekeeping.js';
import type { RawEntry } from '../stream-codec.js';
import { pauseUnlessAborted, reconnectDelayMs, settledWithin } from '../util/waits.js';
import type { ConsumerDefinition, ConsumerRuntime } from './consumer-definition.js';
import { busyDelayMs, describeError } from './decide.js';
import { EventClaims } from './event-claims.js';
import { FencedSettler, LostLeaseError } from './fenced-settler.js';
import { HandlerInvoker } from './handler-invoker.js';
import type { FlowGate } from './flow-gate.js';
import { logContext } from './log-context.js';
import { PartitionLease } from './partition-lease.js';
import { PartitionReader, type Claimed } from './partition-reader.js';

/** How often a partition held back by flow control looks again. */
const FLOW_POLL_MS = 100;

/** Settings of ordered processing on a partitioned stream. */
export interface OrderedSettings {
  partitions: number;
  /** How long a partition lease and a membership last without renewal. */
  leaseMs: number;
}

/**
 * One partition of an ordered group while this instance holds its lease: the same pipeline as a
 * group consumer (HandlerInvoker, then `decide`), one entry at a time, settled under the lease
 * (FencedSettler). A failed attempt is retried in place and a wait for Redis happens in place, so
 * that nothing overtakes the entry.
 */
export class OrderedPartition {
  ended = false;
  busy = false;
  lastError?: string;
  private readonly abort = new AbortController();
  /** Aborts the handler's signal: when the lease is lost, or a stop's drain time is up. */
  private readonly handlerStop = new AbortController();
  private readonly lease: PartitionLease;
  private readonly reader: PartitionReader;
  private readonly claims?: EventClaims;
  private readonly invoker: HandlerInvoker;
  private readonly settler: FencedSettler;
  private readonly housekeeping: GroupHousekeeping;
  private loop?: Promise<void>;

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
    /** The group's flow, shared by this instance's partitions (see OrderedGroup). */
    private readonly gate: FlowGate,
  ) {
    const { group } = definition;
    const redis = (): RedisClient => this.connections.command;
    const holder = `${runtime.consumerName}|${token}`;
    const leaseKey = streamKeys.lease(stream, group);
    const noteError = (message: string): void => {
      this.lastError = `partition ${partition}: ${message}`;
    };
    if (definition.idempotencyWindowMs !== undefined) {
      // The running-marker lives as long as the lease, and is renewed with it.
      this.claims = new EventClaims(redis, stream, group, settings.leaseMs);
    }
    this.lease = new PartitionLease(
      redis,
      leaseKey,
      holder,
      settings.leaseMs,
      partition,
      logger,
      () => this.renewed(),
      () => {
        this.halt();
        this.handlerStop.abort();
      },
      noteError,
    );
    const context = { definition, runtime, redis, events, logger };
    this.housekeeping = new GroupHousekeeping(redis, stream, group, runtime, logger);
    this.reader = new PartitionReader(context, connections, stream, partition, leaseKey, holder);
    this.invoker = new HandlerInvoker(context, this.claims, this.handlerStop.signal);
    this.settler = new FencedSettler(
      context,
      stream,
      leaseKey,
      holder,
      () => !this.stopped && this.lease.valid,
      noteError,
    );
  }

  start(): void {
    this.reader.open();
    this.lease.start();
    this.loop = this.run().finally(() => {
      this.ended = true;
      this.lease.stop();
    });
  }

  /** Stops after the current entry (or after `timeoutMs`) and gives the lease back (`release`). */
  async stop(timeoutMs: number, release = true): Promise<void> {
    this.halt();
    if (!(await settledWithin(this.loop ?? Promise.resolve(), timeoutMs))) this.handlerStop.abort();
    this.lease.stop();
    if (release && !this.busy) await this.lease.release();
  }

  /**
   * The lease was renewed: renew the running-marker of an idempotent handler with it, and tidy the
   * partition's group (consumers of instances that stopped for good).
   */
  private renewed(): void {
    void this.claims?.renew().catch(() => undefined);
    void this.housekeeping.runIfDue(Date.now());
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  /** Stops reading and handling: on stop, or once the lease is lost. */
  private halt(): void {
    if (!this.abort.signal.aborted) this.abort.abort();
    this.reader.close();
  }

  private async run(): Promise<void> {
    let groupReady = false;
    // First what is pending (left by earlier owners, or by reads whose replies were lost), oldest
    // first; then new entries.
    let recovering = true;
    let failures = 0;
    while (!this.stopped) {
      try {
        if (!groupReady) {
          await this.reader.position.ensure(this.connections.command);
          groupReady = true;
        }
        let batch: Claimed[];
        if (recovering) {
          const taken = await this.reader.takeOverPending();
          if (!taken) throw this.settler.lost();
          if (taken.drained) recovering = false;
          batch = taken.entries;
        } else {
          const read = await this.reader.readNew();
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
        if (error instanceof LostLeaseError) {
          this.halt();
          this.handlerStop.abort();
        }
        if (this.stopped) break;
        const message = (error as Error).message;
        if (message.includes('NOGROUP')) groupReady = false;
        // A step that failed may have left entries pending under this consumer unseen (a read
        // that reached Redis, a batch not handled): take the pending list over again first.
        recovering = true;
        this.lastError = `partition ${this.partition}: ${message}`;
        failures += 1;
        await this.pause(reconnectDelayMs(failures));
      }
    }
  }

  /**
   * Runs the entry until it is acknowledged or dead-lettered; nothing overtakes it. A failure of
   * Redis (the library's own calls, or one the handler reports) is no attempt: the entry waits in
   * place until Redis is back.
   */
  private async handleInOrder(entry: RawEntry, firstAttempt: number): Promise<void> {
    const { stream: logical, group } = this.definition;
    const extras = { partition: this.partition, fencingToken: this.token };
    const busyDelay = busyDelayMs(this.settings.leaseMs);
    let attempt = firstAttempt;
    let unavailable = 0;
    // Calls of this entry, busy ones included (see decide's `tries`).
    let tries = firstAttempt - 1;
    this.busy = true;
    try {
      while (!this.stopped) {
        if (!this.lease.valid) throw this.settler.lost();
        // Flow control: wait in place while the group is held back, and for a rate-limit token.
        if (this.gate.limit(1) === 0) {
          await this.pause(FLOW_POLL_MS);
          continue;
        }
        const { granted, waitMs } = await this.gate.take(1);
        if (granted === 0) {
          await this.pause(waitMs);
          continue;
        }
        const invocation = await this.invoker.invoke(entry, attempt, this.stream, extras);
        const { eventId } = invocation;
        entry = invocation.entry;
        const context = logContext(this.stream, group, entry.id, eventId, attempt);
        const reported = { stream: logical, group, id: entry.id, eventId, attempt };
        tries += 1;
        const decision = await this.gate.judge(invocation, attempt, tries, busyDelay, 1);
        if (decision.action === 'wait-for-redis') {
          unavailable += 1;
          const reason = describeError(decision.error);
          this.lastError = `partition ${this.partition}: entry ${entry.id} waits for Redis: ${reason}`;
          if (unavailable === 1) {
            this.logger.warn(`Redis unavailable, entry waits in place (${context}): ${reason}`);
          }
          this.events.emit('infrastructureFailed', { stream: logical, group });
          await this.pause(reconnectDelayMs(unavailable));
          continue;
        }
        unavailable = 0;
        switch (decision.action) {
          case 'ack':
            if (invocation.outcome === 'duplicate') {
              this.logger.log(`Skipping, already handled (${context})`);
              await this.settler.acknowledge(entry.id);
              return;
            }
            await this.settler.acknowledge(entry.id, this.claims?.heldFor(entry.id));
            this.claims?.forget(entry.id);
            this.lastError = undefined;
            this.events.emit('handled', {
              ...reported,
              durationMs: invocation.outcome === 'handled' ? invocation.durationMs : 0,
              latencyMs: Date.now() - streamIdTimeMs(entry.id),
            });
            return;
          case 'defer':
          case 'busy':
            // Another delivery of the same event runs (a former owner's): wait for it in place,
            // without spending an attempt, or the next entries would overtake this one.
            await this.pause(decision.delayMs ?? busyDelay);
            continue;
          case 'dead-letter':
            this.logger.warn(`Dead-lettering (${context}): ${decision.reason}`);
            await this.claims?.release(entry.id).catch(() => undefined);
            await this.settler.deadLetter(entry, attempt, decision.reason);
            this.events.emit('failed', { ...reported, retrying: false, reason: decision.reason });
            this.events.emit('deadLettered', { ...reported, reason: decision.reason });
            this.lastError = undefined;
            return;
          case 'retry':
            this.logger.warn(
              `Attempt failed (${context}), retrying in place in ${decision.delayMs} ms: ${decision.reason}`,
            );
            await this.claims?.release(entry.id).catch(() => undefined);
            this.events.emit('failed', { ...reported, retrying: true, reason: decision.reason });
            // In place: the next entries of this partition wait, or order would break.
            await this.pause(decision.delayMs);
            attempt += 1;
            continue;
        }
      }
    } finally {
      this.busy = false;
    }
  }

  /** Waits, but wakes at once on stop. */
  private pause(ms: number): Promise<void> {
    return pauseUnlessAborted(ms, this.abort.signal);
  }
}
