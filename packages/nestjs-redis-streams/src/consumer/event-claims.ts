import { InfrastructureError } from '../errors/infrastructure-error.js';
import type { RedisClient } from '../redis/redis-connections.js';
import { streamKeys } from '../stream-keys.js';
import { CLAIM_EVENT, RELEASE_EVENT } from '../scripts/idempotency.scripts.js';

/** What CLAIM_EVENT answers: run the handler, it was handled before, or it runs elsewhere now. */
export type EventClaim = 'run' | 'done' | 'busy';

/**
 * The running-markers of an idempotent handler's events (see CLAIM_EVENT): before the handler runs
 * for an entry, the marker of its eventId is taken; it lives `leaseMs` unless renewed, is turned
 * into the done-marker by the acknowledgement, and is released after a failed attempt so the next
 * attempt of any delivery may run.
 */
export class EventClaims {
  /** Entry id to the eventId whose marker this consumer holds. */
  private readonly running = new Map<string, string>();

  constructor(
    private readonly redis: () => RedisClient,
    private readonly stream: string,
    private readonly group: string,
    private readonly leaseMs: number,
  ) {}

  /** Takes the marker for the entry's event. A failing Redis is an InfrastructureError. */
  async claim(id: string, eventId: string): Promise<EventClaim> {
    let reply: Buffer;
    try {
      reply = await CLAIM_EVENT.run<Buffer>(
        this.redis(),
        [streamKeys.done(this.stream, this.group, eventId)],
        [`running:${id}`, this.leaseMs],
      );
    } catch (error) {
      throw new InfrastructureError('claim the eventId', { cause: error });
    }
    const claim = reply.toString() as EventClaim;
    if (claim === 'run') this.running.set(id, eventId);
    return claim;
  }

  /** The eventId whose marker is held for this entry, which its acknowledgement marks done. */
  heldFor(id: string): string | undefined {
    return this.running.get(id);
  }

  /** The entry is finished here: its marker is done (acknowledged) or left to expire. */
  forget(id: string): void {
    this.running.delete(id);
  }

  /** After a failed attempt, lets the next attempt (of any delivery) run. */
  async release(id: string): Promise<void> {
    const eventId = this.running.get(id);
    if (eventId === undefined) return;
    await RELEASE_EVENT.run(
      this.redis(),
      [streamKeys.done(this.stream, this.group, eventId)],
      [`running:${id}`],
    );
    this.running.delete(id);
  }

  /** Keeps the markers of long handlers from expiring under them. */
  async renew(): Promise<void> {
    if (this.running.size === 0) return;
    const pipeline = this.redis().pipeline();
    for (const [id, eventId] of this.running) {
      CLAIM_EVENT.queue(
        pipeline,
        [streamKeys.done(this.stream, this.group, eventId)],
        [`running:${id}`, this.leaseMs],
      );
    }
    await pipeline.exec();
  }
}
