import { RedisWait, type WaitingForRedis } from '../redis/redis-wait.js';
import { pauseUnlessAborted } from '../util/waits.js';
import { describeError } from './decide.js';
import { logContext } from './log-context.js';
import type { ConsumerContext } from './consumer-definition.js';

/**
 * A group consumer's entries held back because Redis failed a call made for them: each waits the
 * consumer-wide backoff of RedisWait, is counted as an infrastructure failure, and the spell's
 * beginning and end are logged once, not per entry.
 */
export class RedisWaits {
  private readonly wait = new RedisWait();

  constructor(
    private readonly context: ConsumerContext,
    /** Aborts on stop: a wait ends at once then. */
    private readonly stop: AbortSignal,
  ) {}

  state(): WaitingForRedis | undefined {
    return this.wait.state();
  }

  /**
   * Redis failed a call for the entry (`first`: it was not waiting yet). Waits before it runs
   * again; false when the consumer stops instead.
   */
  async failed(
    entryId: string,
    eventId: string,
    attempt: number,
    error: unknown,
    first: boolean,
  ): Promise<boolean> {
    const { stream, group } = this.context.definition;
    const spellBegins = !this.wait.active;
    const delayMs = this.wait.failed(error, first);
    this.context.events.emit('infrastructureFailed', { stream, group });
    if (spellBegins) {
      this.context.logger.warn(
        `Redis failed a call for an entry (${logContext(stream, group, entryId, eventId, attempt)}): ${describeError(error)}; ` +
          'entries wait for Redis, pending, without spending attempts',
      );
    }
    if (this.stop.aborted) return false;
    await pauseUnlessAborted(delayMs, this.stop);
    return !this.stop.aborted;
  }

  /** An entry is done waiting: it went through, failed for a reason of its own, or was handed back. */
  done(): void {
    this.wait.done();
    if (!this.wait.active) {
      this.context.logger.log(
        `Redis serves the calls for entries again (${logContext(this.context.definition.stream, this.context.definition.group)})`,
      );
    }
  }
}
