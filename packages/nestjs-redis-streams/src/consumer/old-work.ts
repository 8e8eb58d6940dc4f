import { randomBytes } from 'node:crypto';
import { DEFAULTS } from '../redis-streams.constants.js';
import { claimedBatch, OwnPending, type ClaimedBatch, type Delivery } from './own-pending.js';
import { toRawEntry } from '../stream-codec.js';
import { streamKeys } from '../stream-keys.js';
import { RECLAIM, TAKE_DUE_RETRIES } from '../scripts/old-work.scripts.js';
import type { Capacity } from './capacity.js';
import type { FlowGate } from './flow-gate.js';
import type { ConsumerContext } from './consumer-definition.js';
import { logContext } from './log-context.js';

/**
 * A group consumer's old work, claimed from Redis rather than read new: retries that have fallen
 * due, entries abandoned by consumers that stopped (reclaim), and this consumer's own pending
 * entries that it does not hold (see OwnPending). Claims run one at a time, so that none claims
 * an entry another is about to hand over, into slots reserved across the round trip.
 *
 * Each RECLAIM and TAKE_DUE_RETRIES call records what it claimed under a claim key of its own, so
 * that a resent call hands out the same entries (see scripts/old-work.scripts.ts).
 */
export class OldWork {
  /** Own pending entries this consumer may not know of, which the read loop takes back. */
  readonly ownPending: OwnPending;
  private readonly keys: { retries: string; attempts: string };
  /** Names this process's claim keys apart from those of any other, also of an earlier run. */
  private readonly claimPrefix = randomBytes(6).toString('base64url');
  private claims = 0;
  private claiming?: Promise<void>;
  private nextRetryAt = 0;
  private nextReclaimAt = 0;
  private reclaimStart = '-';

  constructor(
    private readonly context: ConsumerContext,
    private readonly capacity: Capacity,
    private readonly gate: FlowGate,
    /** How often due retries are looked for. */
    private readonly tickMs: number,
    /** Starts a claimed entry; `afterCurrent` for a due retry (see StreamConsumer.dispatch). */
    private readonly dispatch: (delivery: Delivery, afterCurrent: boolean) => void,
  ) {
    const { stream, group } = this.context.definition;
    this.ownPending = new OwnPending(
      this.context.redis,
      stream,
      group,
      this.context.runtime.consumerName,
    );
    this.keys = {
      retries: streamKeys.retries(stream, group),
      attempts: streamKeys.attempts(stream, group),
    };
  }

  /** Whether a claim runs now or may be due: the read loop leaves free slots to it then. */
  mayBeDue(): boolean {
    const now = Date.now();
    return this.claiming !== undefined || now >= this.nextRetryAt || now >= this.nextReclaimAt;
  }

  /**
   * Takes due retries and, now and then, abandoned entries, into the free slots. Runs from the
   * maintenance tick (idle consumer) and before each read (busy consumer). A failure (Redis away,
   * stream deleted) is retried next time; `onError` hears of it.
   */
  async take(stopping: boolean, onError: (message: string) => void): Promise<void> {
    // Nothing is claimed before the read loop has learnt when this run began (see OwnPending).
    if (this.claiming || stopping || !this.ownPending.begun) return;
    try {
      await this.alone(async () => {
        const now = Date.now();
        if (now >= this.nextRetryAt) {
          await this.capacity.withReserved(this.capacity.available(), (free) =>
            this.takeDueRetries(now, free),
          );
        }
        if (now >= this.nextReclaimAt) {
          await this.capacity.withReserved(
            Math.min(this.capacity.available(), DEFAULTS.reclaimBatch),
            (free) => this.reclaimAbandoned(now, free),
          );
        }
      });
    } catch (error) {
      onError(`taking retries or abandoned work failed: ${(error as Error).message}`);
      // Its claim may have run in Redis, its reply lost: the read loop takes such entries back.
      this.ownPending.unknown = true;
    }
  }

  /**
   * Takes back this consumer's own pending entries that it does not hold, a page at a time, and
   * starts each page's entries as slots free up, oldest first, before taking the next page.
   */
  async recoverOwn(stopping: () => boolean): Promise<void> {
    this.ownPending.unknown = false;
    const { held } = this.capacity;
    let start = '-';
    try {
      do {
        // What it holds is read once no other claim is under way, so nothing claimed is left out.
        const batch = await this.alone(() =>
          this.ownPending.takeBack(start, this.context.definition.batchSize, [
            ...this.capacity.owned,
            ...held.map(({ entry }) => entry.id),
          ]),
        );
        this.claimed(batch, 'Took back', 'of its own pending entries');
        held.push(...batch.entries);
        while (held.length > 0 && !stopping()) {
          await this.capacity.waitForSlot(stopping);
          const next = stopping() ? undefined : held.shift();
          if (next) this.dispatch(next, false);
        }
        start = batch.next;
      } while (start !== '0' && !stopping());
    } catch (error) {
      this.ownPending.unknown = true;
      throw error;
    }
  }

  /** Runs `claim` alone among the calls that claim old work. */
  private async alone<T>(claim: () => Promise<T>): Promise<T> {
    while (this.claiming) await this.claiming;
    let done!: () => void;
    this.claiming = new Promise<void>((resolve) => (done = resolve));
    try {
      return await claim();
    } finally {
      this.claiming = undefined;
      done();
    }
  }

  private async takeDueRetries(now: number, slots: number): Promise<void> {
    const { stream, group } = this.context.definition;
    // Rate limited: due retries take tokens as new entries do.
    const { granted: free } = await this.gate.take(slots);
    if (free === 0) {
      this.nextRetryAt = now + this.tickMs;
      return;
    }
    const [claimed, attempts, gone, deliveries] = await TAKE_DUE_RETRIES.run<
      [unknown[], number[], Buffer[], number[]]
    >(
      this.context.redis(),
      [stream, this.keys.retries, this.keys.attempts, this.claimKey()],
      [group, this.context.runtime.consumerName, now, free, this.context.runtime.claimMinIdleMs],
    );
    // A full batch means more may be due: look again at once rather than after a tick.
    this.nextRetryAt = claimed.length >= free ? now : now + this.tickMs;
    if (free > claimed.length)
      void this.gate.giveBack(free - claimed.length).catch(() => undefined);
    if (gone.length > 0) {
      this.context.logger.debug?.(
        `Retries no longer pending, done elsewhere or trimmed (${this.where()}): ${gone.join(', ')}`,
      );
    }
    claimed.forEach((reply, i) => {
      const entry = toRawEntry(reply);
      if (!entry) return;
      const attempt = Number(attempts[i]) + 1;
      this.dispatch({ entry, attempt, tracked: true, delivery: Number(deliveries[i]) }, true);
    });
    if (claimed.length > 0)
      this.context.events.emit('retried', { stream, group, count: claimed.length });
  }

  private async reclaimAbandoned(now: number, free: number): Promise<void> {
    const { stream, group } = this.context.definition;
    const claimMinIdle = this.context.runtime.claimMinIdleMs;
    this.nextReclaimAt = now + Math.min(Math.max(Math.floor(claimMinIdle / 2), 100), 5_000);
    const batch = claimedBatch(
      await RECLAIM.run(
        this.context.redis(),
        [stream, this.keys.retries, this.keys.attempts, this.claimKey()],
        [
          group,
          this.context.runtime.consumerName,
          claimMinIdle,
          this.reclaimStart,
          free,
          claimMinIdle,
        ],
      ),
    );
    this.claimed(batch, 'Claimed', 'entries abandoned by stopped consumers');
    if (batch.entries.length > 0) {
      this.context.events.emit('reclaimed', { stream, group, count: batch.entries.length });
    }
    this.reclaimStart = batch.next === '0' ? '-' : batch.next;
    // More abandoned entries wait beyond this batch: take them with the next free slots, before
    // new entries, instead of one batch per interval.
    if (batch.next !== '0') this.nextReclaimAt = now;
    for (const delivery of batch.entries) this.dispatch(delivery, false);
  }

  /** Logs what a claim took and dropped. */
  private claimed({ entries, gone }: ClaimedBatch, verb: string, what: string): void {
    if (gone.length > 0) {
      this.context.logger.warn(
        `Dropped ${gone.length} pending entries that were deleted from the stream (${this.where()}): ${gone.join(', ')}`,
      );
    }
    if (entries.length > 0) {
      this.context.logger.log(
        `${verb} ${entries.length} ${what} (${this.where()}): ` +
          entries.map(({ entry, attempt }) => `${entry.id} attempt=${attempt}`).join(', '),
      );
    }
  }

  /** A claim key of its own for each RECLAIM and TAKE_DUE_RETRIES call. */
  private claimKey(): string {
    const { stream, group } = this.context.definition;
    this.claims += 1;
    return streamKeys.claim(stream, group, `${this.claimPrefix}.${this.claims}`);
  }

  private where(): string {
    return logContext(this.context.definition.stream, this.context.definition.group);
  }
}
