import type { RedisClient } from '../redis-connections.js';
import { EXTEND_LEASE } from '../scripts/group-settlement.scripts.js';
import type { Capacity } from './capacity.js';
import type { EventClaims } from './event-claims.js';

/**
 * Keeps a group consumer's work from looking abandoned: every third of `claimMinIdleMs` it resets
 * the idle time of every entry it owns or holds (EXTEND_LEASE), so no other consumer reclaims
 * them, and renews the running-markers of idempotent handlers' events.
 */
export class LeaseKeeper {
  private nextAt = 0;
  private readonly everyMs: number;

  constructor(
    private readonly redis: () => RedisClient,
    private readonly stream: string,
    private readonly group: string,
    private readonly consumer: string,
    claimMinIdleMs: number,
    private readonly capacity: Capacity,
    private readonly claims: EventClaims | undefined,
  ) {
    this.everyMs = Math.max(Math.floor(claimMinIdleMs / 3), 100);
  }

  async renewIfDue(now: number): Promise<void> {
    const { owned, held } = this.capacity;
    if (now < this.nextAt || owned.size + held.length === 0) return;
    this.nextAt = now + this.everyMs;
    await EXTEND_LEASE.run(
      this.redis(),
      [this.stream],
      [this.group, this.consumer, ...owned, ...held.map((d) => d.entry.id)],
    );
    await this.claims?.renew();
  }
}
