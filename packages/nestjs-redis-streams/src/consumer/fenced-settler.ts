import { deadLetterFields, type RawEntry } from '../stream-codec.js';
import { streamKeys } from '../stream-keys.js';
import { FENCED_ACK, FENCED_DEAD_LETTER } from '../scripts/fenced.scripts.js';
import { sleep } from '../util/waits.js';
import type { ConsumerContext } from './consumer-definition.js';

/** This owner's lease on the partition lapsed or passed to another: it must stop at once. */
export class LostLeaseError extends Error {
  override readonly name = 'LostLeaseError';
}

/**
 * Carries out decisions for one partition of an ordered group, under its lease: acknowledgements
 * and dead letters go through fenced scripts that refuse an owner whose lease token is no longer
 * current, so a former owner that lost its lease without knowing it cannot settle anything.
 * Retries happen in place (the partition waits), so there is nothing to schedule in Redis.
 */
export class FencedSettler {
  constructor(
    private readonly context: ConsumerContext,
    /** The partition stream. */
    private readonly stream: string,
    private readonly leaseKey: string,
    /** `consumer|token`: who holds the lease, as the lease key records it. */
    private readonly holder: string,
    /** Whether the lease may still be ours; false stops retrying a write. */
    private readonly leaseValid: () => boolean,
    private readonly noteError: (message: string) => void,
  ) {}

  /**
   * Acknowledges under the lease; for an idempotent handler that ran, records in the same step
   * that the event was handled.
   */
  acknowledge(id: string, handledEventId?: string): Promise<void> {
    return this.untilDone(async () => {
      const { group, idempotencyWindowMs } = this.context.definition;
      const keys = [this.stream, this.leaseKey];
      const args: Array<string | number> = [group, id, this.holder];
      if (handledEventId !== undefined && idempotencyWindowMs !== undefined) {
        keys.push(streamKeys.done(this.stream, group, handledEventId));
        args.push(idempotencyWindowMs);
      }
      const acked = await FENCED_ACK.run<number>(this.context.redis(), keys, args);
      if (Number(acked) === -1) throw this.lost();
    });
  }

  /** Copies the entry with its failure to the dead-letter stream and acknowledges it, fenced. */
  deadLetter(entry: RawEntry, attempt: number, reason: string): Promise<void> {
    return this.untilDone(async () => {
      const { group } = this.context.definition;
      const consumer = this.context.runtime.consumerName;
      const stream = this.stream;
      const result = await FENCED_DEAD_LETTER.run<unknown>(
        this.context.redis(),
        [stream, streamKeys.deadLetter(stream), this.leaseKey],
        [
          group,
          entry.id,
          this.holder,
          ...deadLetterFields(entry, { reason, attempt, group, consumer, stream }),
        ],
      );
      if (result === -1) throw this.lost();
    });
  }

  lost(): LostLeaseError {
    return new LostLeaseError(`lease of ${this.stream} is no longer ours`);
  }

  /**
   * Repeats a write that Redis did not confirm, without running the handler again, while the
   * lease may still be ours; then gives the partition up.
   */
  private async untilDone(write: () => Promise<void>): Promise<void> {
    for (;;) {
      try {
        await write();
        return;
      } catch (error) {
        if (error instanceof LostLeaseError) throw error;
        this.noteError((error as Error).message);
        if (!this.leaseValid()) throw this.lost();
        await sleep(100);
      }
    }
  }
}
