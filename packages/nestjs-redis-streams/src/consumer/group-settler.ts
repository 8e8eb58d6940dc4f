import { AckBatcher } from './ack-batcher.js';
import { DEFAULTS } from '../redis-streams.constants.js';
import type { Delivery } from './own-pending.js';
import { deadLetterFields } from '../stream-codec.js';
import { streamIdTimeMs } from '../stream-id.js';
import { streamKeys } from '../stream-keys.js';
import {
  ACK,
  DEAD_LETTER,
  SCHEDULE_RETRY,
  STILL_CURRENT,
} from '../scripts/group-settlement.scripts.js';
import { InfrastructureError } from '../errors/infrastructure-error.js';
import { settled } from '../publisher/write-together.js';
import { sleep } from '../util/waits.js';
import type { ConsumerContext } from './consumer-definition.js';
import type { EventClaims } from './event-claims.js';
import { logContext } from './log-context.js';

/** A handled entry whose acknowledgement is on its way. */
export interface Acking {
  id: string;
  attempt: number;
  eventId: string;
  durationMs: number;
  tracked: boolean;
}

/**
 * Carries out decisions for a consumer group: acknowledgements (batched on the hot path, see
 * AckBatcher), retries scheduled in Redis, dead letters, and hand-backs on shutdown. Retry and
 * dead-letter scripts act only for the current delivery of an entry (see
 * scripts/group-settlement.scripts.ts, Ownership), so a consumer that lost an entry to another settles nothing for it.
 *
 * A write Redis does not take is tried again for a few seconds (`persist`); if it still fails the
 * entry stays pending under this consumer, `unsure` is called, and the consumer takes its own
 * pending entries back later: at least once, never lost.
 */
export class GroupSettler {
  private readonly keys: { retries: string; attempts: string; deadLetter: string };
  /** First-attempt successes, the hot path, are acknowledged in batches, riding on reads. */
  readonly acks: AckBatcher<Acking>;

  constructor(
    private readonly context: ConsumerContext,
    private readonly claims: EventClaims | undefined,
    /** Called when a write was given up: the entry may be pending here unknown to the consumer. */
    private readonly unsure: () => void,
    /** Called once per acknowledged handled entry when its acknowledgement is settled, either way. */
    private readonly settledAck: (id: string) => void,
  ) {
    const { stream, group } = this.context.definition;
    this.acks = new AckBatcher<Acking>(this.context.redis, stream, group, (jobs, error) =>
      this.batchAcknowledged(jobs, error),
    );
    this.keys = {
      retries: streamKeys.retries(stream, group),
      attempts: streamKeys.attempts(stream, group),
      deadLetter: streamKeys.deadLetter(stream),
    };
  }

  /**
   * Acknowledges a handled entry; `acknowledged(id)` hears when that is settled, either way. On the
   * hot path (no retry bookkeeping, not idempotent) the entry joins the next XACK batch, without a
   * promise of its own.
   */
  acknowledge(job: Acking): void {
    if (!job.tracked && !this.claims) {
      this.acks.ackThen(job.id, job);
      return;
    }
    this.ack(job.id, job.tracked, this.claims?.heldFor(job.id))
      .then(
        () => this.acknowledged(job),
        () => this.acknowledgeAgain(job),
      )
      .catch((failure: unknown) => this.unexpected(job, failure))
      .finally(() => this.settledAck(job.id));
  }

  /** How a batch of hot-path acknowledgements went: each entry is done, or acknowledged again. */
  private batchAcknowledged(jobs: Acking[], error: unknown): void {
    for (const job of jobs) {
      if (!error) {
        this.acknowledged(job);
        this.settledAck(job.id);
        continue;
      }
      this.acknowledgeAgain(job)
        .catch((failure: unknown) => this.unexpected(job, failure))
        .finally(() => this.settledAck(job.id));
    }
  }

  private unexpected(job: Acking, failure: unknown): void {
    this.context.logger.error(
      `Unexpected failure acknowledging (${this.where(job.id, job.eventId, job.attempt)}): ${(failure as Error).message}`,
    );
  }

  /** An idempotent handler's event was handled before: acknowledges the entry without running it. */
  async skipDuplicate({ entry, attempt, tracked }: Delivery, eventId: string): Promise<void> {
    const context = this.where(entry.id, eventId, attempt);
    this.context.logger.log(`Skipping, already handled (${context})`);
    await this.persist('acknowledge', context, () => this.ack(entry.id, tracked));
  }

  /** Looks at the entry again after `delayMs` without spending an attempt. */
  async defer(delivery: Delivery, eventId: string, delayMs: number): Promise<void> {
    const context = this.where(delivery.entry.id, eventId, delivery.attempt);
    await this.persist('defer', context, () =>
      this.scheduleRetry(delivery, delivery.attempt - 1, Date.now() + delayMs),
    );
  }

  /** The attempt failed: schedules the next one in `delayMs`. */
  async retry(delivery: Delivery, eventId: string, delayMs: number, reason: string): Promise<void> {
    const { stream, group } = this.context.definition;
    const { attempt } = delivery;
    const context = this.where(delivery.entry.id, eventId, attempt);
    await this.releaseClaim(delivery, context);
    this.context.logger.warn(`Attempt failed (${context}), retrying in ${delayMs} ms: ${reason}`);
    let scheduled = false;
    const written = await this.persist('schedule a retry', context, async () => {
      scheduled = (await this.scheduleRetry(delivery, attempt, Date.now() + delayMs)) === 1;
    });
    if (!written) return;
    if (!scheduled) this.notCurrent('retried', context);
    else {
      const reported = { stream, group, id: delivery.entry.id, eventId, attempt };
      this.context.events.emit('failed', { ...reported, retrying: true, reason });
    }
  }

  /**
   * Copies the entry with its failure to the dead-letter stream and acknowledges it, in one script,
   * for this delivery only.
   */
  async deadLetter(delivery: Delivery, eventId: string, reason: string): Promise<void> {
    const { stream, group } = this.context.definition;
    const { entry, attempt } = delivery;
    const consumer = this.context.runtime.consumerName;
    const context = this.where(entry.id, eventId, attempt);
    await this.releaseClaim(delivery, context);
    this.context.logger.warn(`Dead-lettering (${context}): ${reason}`);
    let copied = false;
    const written = await this.persist('dead-letter', context, async () => {
      const id = await DEAD_LETTER.run(
        this.context.redis(),
        [stream, this.keys.deadLetter, this.keys.retries, this.keys.attempts],
        [
          group,
          consumer,
          delivery.delivery ?? 1,
          entry.id,
          ...deadLetterFields(entry, { reason, attempt, group, consumer, stream }),
        ],
      );
      copied = id !== null;
    });
    if (!written) return;
    if (!copied) this.notCurrent('dead-lettered', context);
    else {
      const reported = { stream, group, id: entry.id, eventId, attempt };
      this.context.events.emit('failed', { ...reported, retrying: false, reason });
      this.context.events.emit('deadLettered', { ...reported, reason });
    }
  }

  /**
   * Gives entries this consumer holds and will not run back to the group, as retries due now with
   * the attempts they had, so that the next consumer to look takes them without counting one for
   * them. What Redis refuses stays pending and is reclaimed later, counting one attempt, as for a
   * crash.
   */
  async handBack(deliveries: Delivery[], what: string): Promise<void> {
    if (deliveries.length === 0) return;
    const outcomes = await Promise.all(
      deliveries.map((delivery) =>
        settled(this.scheduleRetry(delivery, delivery.attempt - 1, Date.now())),
      ),
    );
    const refused = outcomes.filter(([error]) => error !== null);
    const ids = deliveries.map(({ entry }) => entry.id).join(', ');
    this.context.logger.log(
      `Shutdown: ${deliveries.length - refused.length} entries ${what} handed back to the group, no attempt spent (${this.where()}): ${ids}`,
    );
    if (refused.length > 0) {
      this.context.logger.warn(
        `Shutdown: ${refused.length} entries ${what} could not be handed back and stay pending (${this.where()}): ${refused[0][0]!.message}`,
      );
    }
  }

  /** Hands back an entry that was waiting for Redis when the consumer stopped. */
  async handBackWaiting(delivery: Delivery): Promise<void> {
    await this.claims?.release(delivery.entry.id).catch(() => undefined);
    await this.handBack([delivery], 'waiting for Redis');
  }

  /**
   * Whether this delivery is still this consumer's (see STILL_CURRENT), renewing its lease: after
   * waiting for Redis, another consumer may have claimed and settled the entry.
   */
  async stillCurrent({ entry, delivery }: Delivery): Promise<boolean> {
    const { stream, group } = this.context.definition;
    try {
      const current = await STILL_CURRENT.run<number>(
        this.context.redis(),
        [stream],
        [group, this.context.runtime.consumerName, delivery ?? 1, entry.id],
      );
      return current === 1;
    } catch (error) {
      throw new InfrastructureError('check the delivery is still current', { cause: error });
    }
  }

  /** The entry was finished elsewhere, or handed to another delivery that now settles it. */
  notCurrent(what: string, context: string): void {
    this.context.logger.warn(
      `Not ${what} (${context}): this delivery is no longer current, the entry was finished or claimed elsewhere`,
    );
  }

  /** The acknowledgement failed: tries again for a few seconds; then the entry stays pending. */
  private async acknowledgeAgain(job: Acking): Promise<void> {
    const { id, attempt, eventId, tracked } = job;
    const acked = await this.persist('acknowledge', this.where(id, eventId, attempt), () =>
      this.ack(id, tracked, this.claims?.heldFor(id)),
    );
    if (acked) this.acknowledged(job);
    else this.claims?.forget(id);
  }

  /** Redis has the acknowledgement: the entry is reported handled. */
  private acknowledged({ id, eventId, attempt, durationMs }: Acking): void {
    const { stream, group } = this.context.definition;
    this.claims?.forget(id);
    this.context.events.emit('handled', {
      stream,
      group,
      id,
      eventId,
      attempt,
      durationMs,
      latencyMs: Date.now() - streamIdTimeMs(id),
    });
  }

  /**
   * XACK alone on the hot path; the script when there is retry bookkeeping to clear (`tracked`)
   * or a handled event to record.
   */
  private ack(id: string, tracked: boolean, handledEventId?: string): Promise<unknown> {
    const { stream, group, idempotencyWindowMs } = this.context.definition;
    const idempotent = idempotencyWindowMs && handledEventId;
    if (!tracked && !idempotent) return this.acks.ack(id);
    const keys = [stream, this.keys.retries, this.keys.attempts];
    if (idempotent) {
      return ACK.run(
        this.context.redis(),
        [...keys, streamKeys.done(stream, group, handledEventId)],
        [group, id, idempotencyWindowMs],
      );
    }
    return ACK.run(this.context.redis(), keys, [group, id]);
  }

  /** Schedules a retry of this delivery; a delivery no longer current schedules nothing. */
  private scheduleRetry(
    { entry, delivery }: Delivery,
    attemptsSpent: number,
    dueAt: number,
  ): Promise<unknown> {
    const { stream, group } = this.context.definition;
    return SCHEDULE_RETRY.run(
      this.context.redis(),
      [stream, this.keys.retries, this.keys.attempts],
      [group, this.context.runtime.consumerName, delivery ?? 1, entry.id, dueAt, attemptsSpent],
    );
  }

  /** After a failed attempt of an idempotent handler, lets the next attempt (of any delivery) run. */
  private async releaseClaim({ entry }: Delivery, context: string): Promise<void> {
    if (this.claims) {
      await this.persist('release the eventId', context, () => this.claims!.release(entry.id));
    }
  }

  /**
   * Runs a bookkeeping write, trying again for a few seconds if Redis is briefly away. Returns
   * whether the write happened.
   */
  async persist(what: string, context: string, write: () => Promise<unknown>): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await write();
        return true;
      } catch (error) {
        if (attempt >= 6) {
          this.context.logger.error(
            `Could not ${what} (${context}): ${(error as Error).message}; the entry stays pending and will be redelivered`,
          );
          const { stream, group } = this.context.definition;
          this.context.events.emit('infrastructureFailed', { stream, group });
          this.unsure();
          return false;
        }
        await sleep(Math.min(100 * 2 ** attempt, DEFAULTS.reconnectMaxDelayMs));
      }
    }
  }

  private where(entryId?: string, eventId?: string, attempt?: number): string {
    return logContext(
      this.context.definition.stream,
      this.context.definition.group,
      entryId,
      eventId,
      attempt,
    );
  }
}
