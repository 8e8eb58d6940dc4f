import { DEFAULTS } from '../redis-streams.constants.js';

/** What a consumer reports while Redis fails the calls it makes for its entries. */
export interface WaitingForRedis {
  /** Entries held back now, each pending, owned here and waiting to try again. */
  entries: number;
  /** When this spell of failures began (ISO 8601). */
  since: string;
  /** Failed tries in this spell. */
  failures: number;
  /** The last failure, e.g. `claim the eventId failed: OOM command not allowed ...`. */
  error: string;
}

/**
 * A consumer's entries that wait for Redis. When Redis fails a call made for an entry (full,
 * read-only, unreachable, too slow), the entry is no worse than before: it stays pending and owned,
 * spends no attempt and tries again later. One spell covers the whole consumer, so the wait grows
 * with every failure of any entry (a full Redis is asked a few times a second, not in a loop) and
 * the spell ends by itself once no entry waits any more.
 */
export class RedisWait {
  private spell?: { since: number; failures: number; error: string };
  private entries = 0;

  constructor(private readonly random: () => number = Math.random) {}

  /**
   * Notes a failed try; `first` when the entry was not waiting yet. Returns how long it waits
   * before trying again: half fixed, half random, so entries that failed together spread out.
   */
  failed(error: unknown, first: boolean): number {
    const message = error instanceof Error ? error.message : String(error);
    this.spell ??= { since: Date.now(), failures: 0, error: message };
    this.spell.failures += 1;
    this.spell.error = message;
    if (first) this.entries += 1;
    const ceiling = Math.min(
      DEFAULTS.redisWaitBaseMs * 2 ** Math.min(this.spell.failures - 1, 16),
      DEFAULTS.redisWaitMaxMs,
    );
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  /** An entry is done waiting (it went through, failed for a reason of its own, or was handed back). */
  done(): void {
    this.entries -= 1;
    if (this.entries === 0) this.spell = undefined;
  }

  /** Whether a spell is on. */
  get active(): boolean {
    return this.spell !== undefined;
  }

  state(): WaitingForRedis | undefined {
    if (!this.spell) return undefined;
    const { since, failures, error } = this.spell;
    return { entries: this.entries, since: new Date(since).toISOString(), failures, error };
  }
}
