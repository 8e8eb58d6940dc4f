import type { RedisClient } from '../redis/redis-connections.js';
import { toRawEntry, type RawEntry } from '../stream-codec.js';
import { streamKeys } from '../stream-keys.js';
import { RECOVER_OWN, SERVER_TIME } from '../scripts/old-work.scripts.js';

/** An entry a consumer owns in Redis, and what it knows of it. */
export interface Delivery {
  entry: RawEntry;
  /** The attempt it runs as: the attempts already spent, plus one. */
  attempt: number;
  /**
   * Whether Redis may hold retry bookkeeping for it (it came from a retry, a reclaim or a
   * recovery), which its acknowledgement then clears; entries from a read have none.
   */
  tracked: boolean;
  /**
   * Redis's delivery count of the entry once claimed from the pending list; absent for an entry
   * read new (delivery 1). The scripts settle a failed attempt only for the current delivery.
   */
  delivery?: number;
}

/** What a claiming script returned. */
export interface ClaimedBatch {
  /** Where the scan of the pending list goes on; '0' when it is complete. */
  next: string;
  entries: Delivery[];
  /** Pending ids dropped because their stream entry is gone (trimmed or deleted). */
  gone: string[];
}

/**
 * Reads a RECLAIM or RECOVER_OWN reply: {next start id, entries, attempts spent, gone ids,
 * delivery count per entry}.
 */
export function claimedBatch(reply: unknown): ClaimedBatch {
  const [next, claimed, attempts, gone, deliveries] = reply as [
    Buffer,
    unknown[],
    number[],
    Buffer[],
    number[],
  ];
  const entries: Delivery[] = [];
  claimed.forEach((item, i) => {
    const entry = toRawEntry(item);
    if (!entry) return;
    entries.push({
      entry,
      attempt: Number(attempts[i]) + 1,
      tracked: true,
      delivery: Number(deliveries[i]),
    });
  });
  return { next: next.toString(), entries, gone: gone.map(String) };
}

/**
 * A consumer's own pending entries that it does not hold in memory, which it takes back before
 * reading anything new: at startup those of a previous run under the same name; later those
 * behind a reply that never came (a read, reclaim or retry take whose claim ran in Redis) or an
 * outcome Redis did not record.
 *
 * Only a previous run's entries count an attempt: it may have started them, and a message that
 * crashes the process must still reach the dead-letter stream. Entries claimed in this run and
 * lost on the way never reached a handler here, so they keep the attempts they had. Redis tells
 * them apart: a previous run's were last delivered before this run began (the server's time, read
 * before this run claims anything). What cannot be told apart without a write per entry: the
 * entries a previous run read ahead or claimed without starting count one attempt after a crash
 * (kill -9), as running ones do.
 */
export class OwnPending {
  /** Whether the consumer may own pending entries it does not hold: at first, and after a loss. */
  unknown = true;
  /** The server's time (ms) when this run began, before its first claim. */
  private began?: number;
  private readonly keys: string[];

  constructor(
    private readonly redis: () => RedisClient,
    stream: string,
    private readonly group: string,
    private readonly consumer: string,
  ) {
    this.keys = [stream, streamKeys.retries(stream, group), streamKeys.attempts(stream, group)];
  }

  /** Whether this run's beginning is known; until then, nothing may be claimed. */
  get begun(): boolean {
    return this.began !== undefined;
  }

  /** Claims one page of them from `start`, leaving out the ids the consumer holds. */
  async takeBack(start: string, count: number, holding: string[]): Promise<ClaimedBatch> {
    this.began ??= await SERVER_TIME.run<number>(this.redis(), [this.keys[0]], []);
    const reply = await RECOVER_OWN.run<unknown>(this.redis(), this.keys, [
      this.group,
      this.consumer,
      this.began,
      start,
      count,
      ...holding,
    ]);
    return claimedBatch(reply);
  }
}
