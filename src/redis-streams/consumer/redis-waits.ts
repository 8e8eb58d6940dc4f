import type { Logger } from '@nestjs/common';
import { RedisWait, type WaitingForRedis } from '../redis-wait.js';
import type { StreamEvents } from '../stream-events.js';
import { pauseUnlessAborted } from '../waits.js';
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

  private readonly stream: string;
  private readonly group: string;
  private readonly events: StreamEvents;
  private readonly logger: Logger;

  constructor(
    context: ConsumerContext,
    /** Aborts on stop: a wait ends at once then. */
    private readonly stop: AbortSignal,
  ) {
    ({ events: this.events, logger: this.logger } = context);
    ({ stream: this.stream, group: this.group } = context.definition);
  }

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
    const { stream, group } = this;
    const spellBegins = !this.wait.active;
    const delayMs = this.wait.failed(error, first);
    this.events.emit('infrastructureFailed', { stream, group });
    if (spellBegins) {
      this.logger.warn(
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
      this.logger.log(
        `Redis serves the calls for entries again (${logContext(this.stream, this.group)})`,
      );
    }
  }
}
