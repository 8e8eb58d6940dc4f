import type { Logger } from '@nestjs/common';
import type { RedisClient } from '../redis/redis-connections.js';
import { RENEW_LEASE } from '../scripts/fenced.scripts.js';
import { Ticker } from '../util/ticker.js';

/**
 * One instance's lease on one partition of an ordered group, renewed every third of `leaseMs`.
 * It is surely ours until a third of the lease before it would lapse since the last renewal Redis
 * confirmed: past that (Redis unreachable) no handler may start, as another instance may own the
 * partition by then. When Redis says the lease is another's, or it could not be renewed in time,
 * `lost` is called once.
 */
export class PartitionLease {
  private validUntil: number;
  private readonly ticker: Ticker;
  private ended = false;

  constructor(
    private readonly redis: () => RedisClient,
    private readonly key: string,
    /** `consumer|token`, as the lease key records its holder. */
    readonly holder: string,
    private readonly leaseMs: number,
    private readonly partition: number,
    private readonly logger: Logger,
    /** Each confirmed renewal (the running-marker of an idempotent handler renews with it). */
    private readonly renewed: () => void,
    private readonly lost: () => void,
    private readonly noteError: (message: string) => void,
  ) {
    this.validUntil = Date.now() + this.margin();
    this.ticker = new Ticker(
      Math.max(Math.floor(leaseMs / 3), 50),
      () => this.renew(),
      () => undefined,
    );
  }

  /** Whether the lease is surely still ours. */
  get valid(): boolean {
    return Date.now() <= this.validUntil;
  }

  start(): void {
    this.ticker.start();
  }

  stop(): void {
    this.ended = true;
    this.ticker.stop();
  }

  /** Gives the lease back, so that the next owner need not wait for it to expire. */
  async release(): Promise<void> {
    await RENEW_LEASE.run(this.redis(), [this.key], [this.holder, 0]).catch(() => undefined);
  }

  private async renew(): Promise<void> {
    const asked = Date.now();
    let held: number;
    try {
      held = Number(
        await RENEW_LEASE.run<number>(this.redis(), [this.key], [this.holder, this.leaseMs]),
      );
    } catch (error) {
      // Redis away: keep trying while the lease may still be ours; after that, stop.
      this.noteError(`lease renewal failed: ${(error as Error).message}`);
      if (this.valid) return;
      this.logger.warn(
        `Could not renew the lease of partition ${this.partition} in time; stopping it`,
      );
      return this.end();
    }
    if (held === 1) {
      this.validUntil = asked + this.margin();
      this.renewed();
      return;
    }
    this.logger.warn(`Lost the lease of partition ${this.partition}; stopping it`);
    this.end();
  }

  private end(): void {
    if (this.ended) return;
    this.stop();
    this.lost();
  }

  private margin(): number {
    return Math.floor((this.leaseMs * 2) / 3);
  }
}
