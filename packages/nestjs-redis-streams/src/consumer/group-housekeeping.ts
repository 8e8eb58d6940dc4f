import type { Logger } from '@nestjs/common';
import { DEFAULTS } from '../redis-streams.constants.js';
import type { RedisClient } from '../redis/redis-connections.js';
import { streamKeys } from '../stream-keys.js';
import type { ConsumerRuntime } from './consumer-definition.js';
import { DELETE_IDLE_CONSUMERS, SWEEP_BOOKKEEPING } from '../scripts/group-lifecycle.scripts.js';

/** The group one consumer tidies, and how. */
interface HousekeepingTarget {
  stream: string;
  group: string;
  /** The consumer doing it: never deleted by itself. */
  consumer: string;
  retries: string;
  attempts: string;
  /** Consumers idle this long with nothing pending are deleted. */
  staleConsumerIdleMs: number;
  /** How often a step of the bookkeeping sweep runs. */
  sweepIntervalMs: number;
}

/**
 * Removes what a consumer group no longer needs, now and then, from each of its consumers'
 * maintenance: consumers that stopped for good (each rollout with pod-named consumers adds some,
 * and XREADGROUP never removes them) and retry bookkeeping of entries no longer pending. Both are
 * cheap and bounded per run; the first run comes as soon as the group exists, later ones at
 * jittered intervals so that a fleet does not run them all at once. Failures are only logged: the
 * next run tries again.
 */
export class GroupHousekeeping {
  private nextConsumersAt = 0;
  private nextSweepAt = 0;
  private sweepCursor = '0';
  private readonly consumersEveryMs: number;

  private readonly target: HousekeepingTarget;

  constructor(
    private readonly redis: () => RedisClient,
    stream: string,
    group: string,
    runtime: ConsumerRuntime,
    private readonly logger: Logger,
  ) {
    this.target = {
      stream,
      group,
      consumer: runtime.consumerName,
      retries: streamKeys.retries(stream, group),
      attempts: streamKeys.attempts(stream, group),
      staleConsumerIdleMs: runtime.staleConsumerIdleMs,
      sweepIntervalMs: Math.max(runtime.claimMinIdleMs, 1_000),
    };
    const { target } = this;
    this.consumersEveryMs = Math.min(
      DEFAULTS.staleConsumerCheckMs,
      Math.max(Math.floor(target.staleConsumerIdleMs / 4), 1),
    );
  }

  async runIfDue(now: number): Promise<void> {
    if (now >= this.nextConsumersAt) {
      this.nextConsumersAt = now + jittered(this.consumersEveryMs);
      await this.tryTo('delete stale consumers', () => this.deleteStaleConsumers());
    }
    if (now >= this.nextSweepAt) {
      this.nextSweepAt = now + jittered(this.target.sweepIntervalMs);
      await this.tryTo('sweep retry bookkeeping', () => this.sweepStep());
    }
  }

  private async deleteStaleConsumers(): Promise<void> {
    const { stream, group, consumer, staleConsumerIdleMs } = this.target;
    const deleted = await DELETE_IDLE_CONSUMERS.run<Buffer[]>(
      this.redis(),
      [stream],
      [group, consumer, staleConsumerIdleMs, DEFAULTS.staleConsumersPerCheck],
    );
    if (deleted.length > 0) {
      this.logger.log(
        `Deleted ${deleted.length} consumers idle for over ${staleConsumerIdleMs} ms with nothing pending (stream=${stream} group=${group}): ${deleted.join(', ')}`,
      );
    }
    // A full batch: more may wait, take them next tick rather than next interval.
    if (deleted.length >= DEFAULTS.staleConsumersPerCheck) this.nextConsumersAt = 0;
  }

  private async sweepStep(): Promise<void> {
    const { stream, group, retries, attempts } = this.target;
    const [cursor, removed] = await SWEEP_BOOKKEEPING.run<[Buffer, number]>(
      this.redis(),
      [stream, retries, attempts],
      [group, this.sweepCursor, DEFAULTS.bookkeepingSweepBatch],
    );
    this.sweepCursor = cursor.toString();
    if (removed > 0) {
      this.logger.log(
        `Removed retry bookkeeping of ${removed} entries no longer pending (stream=${stream} group=${group})`,
      );
    }
  }

  private async tryTo(what: string, run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (error) {
      this.logger.warn(`Could not ${what}, trying again later: ${(error as Error).message}`);
    }
  }
}

/** `ms` give or take a quarter. */
function jittered(ms: number): number {
  return Math.round(ms * (0.75 + Math.random() / 2));
}
