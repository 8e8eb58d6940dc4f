import type { RedisClient } from '../redis/redis-connections.js';
import { streamKeys } from '../stream-keys.js';
import type { AppStreams, HandlerGroup } from './app-streams.js';

/** An entry that failed and waits for its next attempt. */
export interface ScheduledRetry {
  /** The stream by the name handlers use (`orders`, not `orders:{3}`). */
  stream: string;
  partition?: number;
  group: string;
  /** The entry's id in its Redis stream. */
  id: string;
  /** When the retry falls due (epoch ms). */
  dueAt: number;
  /** Attempts spent so far. */
  attempts: number;
}

/** Most retries one group's look reads. */
const LOOK_LIMIT = 1_000;

/**
 * Time control for retries. A failed attempt of a (not ordered) handler schedules its retry in
 * Redis, in a sorted set scored by the time it falls due; its consumer looks for due retries every
 * quarter of the backoff base (25 to 500 ms). Making a retry due now is lowering its score, so a
 * test of "fails twice, then succeeds" need not wait out the real backoff.
 *
 * Ordered handlers retry in place, in memory (nothing may overtake the entry), so their backoff is
 * not scheduled here: give them a short `backoff` in tests.
 */
export class ScheduledRetries {
  constructor(
    private readonly redis: () => RedisClient,
    private readonly streams: AppStreams,
  ) {}

  /** Every scheduled retry of the app's groups, soonest first. */
  async scheduled(): Promise<ScheduledRetry[]> {
    const perGroup = await Promise.all(this.streams.groups().map((group) => this.readGroup(group)));
    return perGroup.flat().sort((a, b) => a.dueAt - b.dueAt);
  }

  /** Makes every scheduled retry due now; returns how many were scheduled for later. */
  async runDue(): Promise<number> {
    const now = Date.now();
    return this.reschedule((dueAt) => (dueAt > now ? now : undefined));
  }

  /** Brings every scheduled retry `ms` closer, as if that much time had passed; returns how many. */
  async advance(ms: number): Promise<number> {
    if (!(ms >= 0)) throw new RangeError('advance(ms) needs ms >= 0');
    return this.reschedule((dueAt) => dueAt - ms);
  }

  /**
   * Lowers the due times to what `to` says (undefined: leave it). ZADD XX LT changes only a retry
   * still scheduled and only to an earlier time: one that its consumer takes meanwhile is not
   * scheduled again.
   */
  private async reschedule(to: (dueAt: number) => number | undefined): Promise<number> {
    const redis = this.redis();
    const moved = await Promise.all(
      this.streams.groups().map(async ({ stream, group }) => {
        const key = streamKeys.retries(stream, group);
        const flat = await redis.zrange(key, 0, String(LOOK_LIMIT - 1), 'WITHSCORES');
        const changes: Array<string | number> = [];
        for (let i = 0; i + 1 < flat.length; i += 2) {
          const dueAt = to(Number(flat[i + 1]));
          if (dueAt !== undefined) changes.push(dueAt, flat[i]);
        }
        if (changes.length > 0) await redis.call('ZADD', key, 'XX', 'LT', ...changes);
        return changes.length / 2;
      }),
    );
    return moved.reduce((sum, count) => sum + count, 0);
  }

  private async readGroup({ stream, group }: HandlerGroup): Promise<ScheduledRetry[]> {
    const redis = this.redis();
    const flat = await redis.zrange(
      streamKeys.retries(stream, group),
      0,
      String(LOOK_LIMIT - 1),
      'WITHSCORES',
    );
    if (flat.length === 0) return [];
    const ids = flat.filter((_, i) => i % 2 === 0);
    const attempts = await redis.hmget(streamKeys.attempts(stream, group), ...ids);
    const named = this.streams.named(stream);
    return ids.map((id, i) => ({
      ...named,
      group,
      id,
      dueAt: Number(flat[2 * i + 1]),
      attempts: Number(attempts[i] ?? 0),
    }));
  }
}
