import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './redis-connections.js';

interface Waiter {
  id: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Acknowledges entries of one group in batches: ids whose handlers finish in the same turn of the
 * event loop go out as one `XACK stream group id id ...` instead of one command each. Each caller
 * still learns whether its own entry was acknowledged, so an entry is never reported done before
 * Redis has the acknowledgement.
 *
 * When the consumer is about to read again, the batch rides on that read instead: the read loop
 * calls `holdForRead`, then `takeInto` its pipeline, so the XACK and the next XREADGROUP leave in
 * one write (as a hand-written loop does it). Redis answers the XACK before it blocks on the read,
 * so the acknowledgement is confirmed just as fast.
 */
export class AckBatcher {
  private queue: Waiter[] = [];
  private scheduled = false;
  private heldForRead = false;

  constructor(
    private readonly redis: () => RedisClient,
    private readonly stream: string,
    private readonly group: string,
    private readonly maxBatch = 500,
  ) {}

  ack(id: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ id, resolve, reject });
      if (this.queue.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** A read is about to go out: leave the queued acknowledgements for it (see `takeInto`). */
  holdForRead(): void {
    this.heldForRead = true;
  }

  /**
   * Puts every queued acknowledgement on `pipeline`, ahead of the read the caller adds next, or,
   * without a pipeline (no read after all), sends them at once. Ends `holdForRead`. Redis answers
   * an XACK at once; without an answer within `timeoutMs` (a connection that is open but dead, on
   * which a blocking read only ends by its client-side timeout) the callers learn it failed and
   * acknowledge again.
   */
  takeInto(pipeline: ChainableCommander | undefined, timeoutMs = 0): void {
    this.heldForRead = false;
    if (!pipeline) {
      this.flush();
      return;
    }
    const batch = this.queue.splice(0, this.queue.length);
    if (batch.length === 0) return;
    let settled = false;
    const once = (error: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      settle(batch, error);
    };
    const timer =
      timeoutMs > 0
        ? setTimeout(() => once(new Error(`no answer to XACK within ${timeoutMs} ms`)), timeoutMs)
        : undefined;
    pipeline.xack(this.stream, this.group, ...batch.map((w) => w.id), (error?: Error | null) =>
      once(error ?? null),
    );
  }

  private flush(): void {
    this.scheduled = false;
    if (this.heldForRead) return;
    const batch = this.queue.splice(0, this.queue.length);
    if (batch.length === 0) return;
    this.redis()
      .xack(this.stream, this.group, ...batch.map((w) => w.id))
      .then(
        () => settle(batch, null),
        (error: unknown) => settle(batch, error),
      );
  }
}

function settle(batch: Waiter[], error: unknown): void {
  if (error) batch.forEach((w) => w.reject(error));
  else batch.forEach((w) => w.resolve());
}
