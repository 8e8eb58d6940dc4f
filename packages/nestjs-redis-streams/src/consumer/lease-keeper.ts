import type { RedisClient } from '../redis/redis-connections.js';
import { EXTEND_LEASE } from '../scripts/group-settlement.scripts.js';
import type { Capacity } from './capacity.js';
import type { ConsumerContext } from './consumer-definition.js';
import type { EventClaims } from './event-claims.js';

/**
 * Keeps a group consumer's work from looking abandoned: every third of `claimMinIdleMs` it resets
 * the idle time of every entry it owns or holds (EXTEND_LEASE), so no other consumer reclaims
 * them, and renews the running-markers of idempotent handlers' events.
 */
export class LeaseKeeper {
  private nextAt = 0;
  private readonly everyMs: number;

  private readonly redis: () => RedisClient;
  private readonly args: string[];

  constructor(
    context: ConsumerContext,
    private readonly capacity: Capacity,
    private readonly claims: EventClaims | undefined,
  ) {
    const { definition, runtime } = context;
    this.redis = context.redis;
    this.args = [definition.stream, definition.group, runtime.consumerName];
    this.everyMs = Math.max(Math.floor(runtime.claimMinIdleMs / 3), 100);
  }

  async renewIfDue(now: number): Promise<void> {
    const { owned, held } = this.capacity;
    if (now < this.nextAt || owned.size + held.length === 0) return;
    this.nextAt = now + this.everyMs;
    const [stream, group, consumer] = this.args;
    await EXTEND_LEASE.run(
      this.redis(),
      [stream],
      [group, consumer, ...owned, ...held.map((d) => d.entry.id)],
    );
    await this.claims?.renew();
  }
}
