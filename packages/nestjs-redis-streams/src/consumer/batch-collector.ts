import { callWithDeadline } from './call-deadline.js';
import type { StreamBatchHandlerFn } from '../interfaces/stream-handler.interface.js';
import type { StreamMessage } from '../interfaces/stream-message.interface.js';
import { failedItems, type BatchCallEnd } from './batch-report.js';
import type { ConsumerContext, ConsumerDefinition } from './consumer-definition.js';
import type { EventClaims } from './event-claims.js';
import { HandlerInvoker } from './handler-invoker.js';

/** An entry waiting in a batch: what the handler gets for it, and how its call settles. */
interface Item {
  payload: unknown;
  message: StreamMessage;
  /** When it joined (ms). */
  at: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Gathers the entries of a batch handler into batches and calls the handler once per batch. To
 * the rest of the pipeline it is the handler of one entry (`handle`): each entry is decoded,
 * claimed (`idempotent`) and validated (`dto`) on its own by HandlerInvoker, which then hands it
 * here, and its call settles with the batch's verdict on it, so that every entry is decided and
 * settled on its own as with any handler (see `batchingInvoker`).
 *
 * A batch is handed over once it has `maxSize` items or `maxWaitMs` after its first, whichever
 * comes first, and only while fewer than `concurrency` batch calls run: a batch that is due waits
 * for a call to end, taking more items up to `maxSize` meanwhile.
 */
export class BatchCollector {
  /** Entries not handed over yet, oldest first. */
  private readonly waiting: Item[] = [];
  private running = 0;
  private draining = false;
  private timer?: NodeJS.Timeout;
  private timerAt = 0;
  private readonly handleBatch: StreamBatchHandlerFn;
  private readonly maxSize: number;
  private readonly maxWaitMs: number;
  private readonly calls: number;
  private readonly timeoutMs?: number;

  constructor(
    definition: Pick<ConsumerDefinition, 'handle' | 'batch' | 'concurrency' | 'flow'>,
    /** Aborts once the shutdown's drain time is up: no batch call starts after that. */
    private readonly stopSignal: AbortSignal,
  ) {
    // Discovery found the method; the `batch` option says it takes the two arrays.
    this.handleBatch = definition.handle as unknown as StreamBatchHandlerFn;
    this.maxSize = definition.batch!.maxSize;
    this.maxWaitMs = definition.batch!.maxWaitMs;
    this.calls = definition.concurrency;
    this.timeoutMs = definition.flow.timeoutMs;
  }

  /** One entry's handler: it joins a batch, and the call settles with the batch's verdict on it. */
  readonly handle = (payload: unknown, message: StreamMessage): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const at = Date.now();
      const waiting = this.waiting;
      waiting.push({ payload, message, at, resolve, reject });
      if (waiting.length >= this.maxSize || this.draining) this.handOver();
      // A batch that is not full is handed over from a timer, never in the turn its first item
      // joined: the entries of one read join in that turn, and go together (also with maxWaitMs 0).
      else if (waiting.length === 1) this.wakeAt(at + this.maxWaitMs);
    });

  /**
   * The consumer stops: what waits is handed over now, and so is every entry that joins later,
   * instead of waiting for more. Calls still start only up to `concurrency` at once.
   */
  drain(): void {
    this.draining = true;
    this.handOver();
  }

  /** Hands over every batch that is full or due, while a call may start. */
  private handOver(): void {
    const waiting = this.waiting;
    while (waiting.length > 0 && this.running < this.calls && !this.stopSignal.aborted) {
      if (!this.draining && waiting.length < this.maxSize) {
        const dueAt = waiting[0].at + this.maxWaitMs;
        if (Date.now() < dueAt) {
          this.wakeAt(dueAt);
          return;
        }
      }
      this.call(waiting.splice(0, this.maxSize));
    }
  }

  /** Looks again at `at`, when the oldest waiting entry's batch falls due. */
  private wakeAt(at: number): void {
    if (this.timer !== undefined && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.handOver();
      },
      Math.max(0, at - Date.now()),
    );
  }

  /** Calls the handler with one batch, and settles each item's call with its verdict. */
  private call(items: Item[]): void {
    this.running += 1;
    const payloads = new Array<unknown>(items.length);
    const messages = new Array<StreamMessage>(items.length);
    for (let i = 0; i < items.length; i++) {
      payloads[i] = items[i].payload;
      messages[i] = items[i].message;
    }
    void this.run(payloads, messages)
      .then((end) => {
        const failed = failedItems(
          messages.map((message) => message.id),
          end,
        );
        for (let i = 0; i < items.length; i++) {
          if (failed.has(i)) items[i].reject(failed.get(i));
          else items[i].resolve();
        }
      })
      .finally(() => {
        this.running -= 1;
        this.handOver();
      });
  }

  /** Runs the handler on one batch; how it ended (never rejects). */
  private async run(payloads: unknown[], messages: StreamMessage[]): Promise<BatchCallEnd> {
    try {
      if (this.timeoutMs !== undefined) {
        return { returned: await this.callWithin(this.timeoutMs, payloads, messages) };
      }
      const returned = this.handleBatch(payloads, messages);
      return { returned: isThenable(returned) ? await returned : returned };
    } catch (thrown) {
      return { thrown };
    }
  }

  /**
   * The batch call with a signal that aborts at `timeoutMs` (or on stop), given up then: the call
   * may go on, but every item's attempt has failed. The timeout counts from the call, not from
   * when its items joined.
   */
  private callWithin(
    timeoutMs: number,
    payloads: unknown[],
    messages: StreamMessage[],
  ): Promise<unknown> {
    return callWithDeadline(timeoutMs, this.stopSignal, (signal) => {
      const calls = messages.map((message) => ({ ...message, signal }));
      return Promise.resolve().then(() => this.handleBatch(payloads, calls));
    });
  }
}

/**
 * The invoke step of a batch handler: HandlerInvoker's steps for each entry (bytes read again,
 * decode, idempotency claim, validation, trace span), with `collector` as the handler. The
 * timeout is the batch call's (see BatchCollector), not each entry's.
 */
export function batchingInvoker(
  context: ConsumerContext,
  collector: BatchCollector,
  claims: EventClaims | undefined,
  stopSignal: AbortSignal,
): HandlerInvoker {
  const { definition } = context;
  const perEntry: ConsumerDefinition = {
    ...definition,
    handle: collector.handle,
    flow: { ...definition.flow, timeoutMs: undefined },
  };
  return new HandlerInvoker({ ...context, definition: perEntry }, claims, stopSignal);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}
