import type { Delivery } from './own-pending.js';
import type { ConsumerContext } from './consumer-definition.js';
import type { FlowGate } from './flow-gate.js';
import type { GroupSettler } from './group-settler.js';
import type { HandlerInvoker } from './handler-invoker.js';
import { logContext } from './log-context.js';
import type { RedisWaits } from './redis-waits.js';

/**
 * The pipeline of one entry of a consumer group, from start to outcome: invoke the handler
 * (HandlerInvoker), judge the outcome (FlowGate, with `decide`), and carry the decision out
 * (GroupSettler). While Redis fails calls made for the entry, it waits (RedisWaits) and runs
 * again, as long as its delivery is still this consumer's.
 */
export class GroupEntryRunner {
  constructor(
    private readonly context: ConsumerContext,
    private readonly invoker: HandlerInvoker,
    private readonly gate: FlowGate,
    private readonly settler: GroupSettler,
    private readonly redisWaits: RedisWaits,
    /** How soon an entry that is not to blame is looked at again. */
    private readonly busyRetryMs: number,
    /** The handler is done: its slot is free, while the acknowledgement may be on its way. */
    private readonly handlerDone: () => void,
    /**
     * The entry is finished here: settled, or left pending. For an acknowledged entry the
     * settler says so once Redis confirms, not the runner.
     */
    private readonly finished: (id: string) => void,
    /** Something unexpected happened: the consumer may own pending entries it does not know of. */
    private readonly unsure: () => void,
  ) {}

  /**
   * Runs one entry to its outcome: invoke, decide, settle. While Redis fails calls made for it,
   * it runs again after a wait, as long as its delivery is still this consumer's.
   */
  async run(delivery: Delivery): Promise<void> {
    const { attempt } = delivery;
    const { concurrency } = this.context.definition;
    let acknowledging = false;
    let waiting = false;
    try {
      for (;;) {
        if (waiting && !(await this.stillCurrent(delivery))) return;
        const invocation = await this.invoker.invoke(
          delivery.entry,
          attempt,
          this.context.definition.stream,
        );
        const { eventId } = invocation;
        // Dead letters copy the entry as handled: read again as bytes if its text lost some.
        delivery.entry = invocation.entry;
        const judged = this.gate.judge(
          invocation,
          attempt,
          delivery.delivery ?? attempt,
          this.busyRetryMs,
          concurrency,
        );
        const decision = judged instanceof Promise ? await judged : judged;
        switch (decision.action) {
          case 'ack':
            if (invocation.outcome === 'duplicate') {
              await this.settler.skipDuplicate(delivery, eventId);
              return;
            }
            // The handler is done: its slot is free for the next entry while the acknowledgement
            // goes out (with the next read, see AckBatcher). It stays owned until Redis confirms.
            this.handlerDone();
            acknowledging = true;
            this.settler.acknowledge({
              id: delivery.entry.id,
              attempt,
              eventId,
              durationMs: invocation.outcome === 'handled' ? invocation.durationMs : 0,
              tracked: delivery.tracked,
            });
            return;
          case 'defer':
          case 'busy':
            await this.settler.defer(delivery, eventId, decision.delayMs ?? this.busyRetryMs);
            return;
          case 'retry':
            await this.settler.retry(delivery, eventId, decision.delayMs, decision.reason);
            return;
          case 'dead-letter':
            await this.settler.deadLetter(delivery, eventId, decision.reason);
            return;
          case 'wait-for-redis': {
            const first = !waiting;
            waiting = true;
            const { id } = delivery.entry;
            if (await this.redisWaits.failed(id, eventId, attempt, decision.error, first)) continue;
            await this.settler.handBackWaiting(delivery);
            return;
          }
        }
      }
    } catch (error) {
      this.context.logger.error(
        `Unexpected failure processing (${this.where(delivery.entry.id, undefined, attempt)}): ${(error as Error).message}`,
      );
      this.unsure();
    } finally {
      if (waiting) this.redisWaits.done();
      if (!acknowledging) this.finished(delivery.entry.id);
    }
  }

  /** After a wait for Redis: whether the delivery is still this consumer's to run. */
  private async stillCurrent(delivery: Delivery): Promise<boolean> {
    if (await this.settler.stillCurrent(delivery)) return true;
    this.settler.notCurrent(
      'run again',
      this.where(delivery.entry.id, undefined, delivery.attempt),
    );
    return false;
  }

  private where(entryId?: string, eventId?: string, attempt?: number): string {
    const { stream, group } = this.context.definition;
    return logContext(stream, group, entryId, eventId, attempt);
  }
}
