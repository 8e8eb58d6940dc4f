import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './redis-connections.js';

/** One XACK's worth of ids and the promise all their callers wait on. */
class Batch {
  readonly ids: string[] = [];
  readonly done: Promise<void>;
  private settle!: (error: unknown) => void;
  private settled = false;

  constructor() {
    this.done = new Promise<void>((resolve, reject) => {
      this.settle = (error) => (error ? reject(error) : resolve());
    });
    // Nobody may be waiting when it fails (all callers gone): not an unhandled rejection.
    this.done.catch(() => undefined);
  }

  finish(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.settle(error);
  }
}

/**
 * Acknowledges entries of one group in batches: ids whose handlers finish in the same turn of the
 * event loop go out as one `XACK stream group id id ...` instead of one command each, and their
 * callers share one promise. Each caller still learns whether its own entry was acknowledged, so
 * an entry is never reported done before Redis has the acknowledgement.
 *
 * When the consumer is about to read again, the batch rides on that read instead: the read loop
 * calls `holdForRead`, then `takeInto` its pipeline, so the XACK and the next XREADGROUP leave in
 * one write (as a hand-written loop does it). Redis answers the XACK before it blocks on the read,
 * so the acknowledgement is confirmed just as fast.
 */
export class AckBatcher {
  private batch = new Batch();
  private scheduled = false;
  private heldForRead = false;
  private holdTimer?: NodeJS.Timeout;

  constructor(
    private readonly redis: () => RedisClient,
    private readonly stream: string,
    private readonly group: string,
    private readonly maxBatch = 500,
  ) {}

  ack(id: string): Promise<void> {
    const batch = this.batch;
    batch.ids.push(id);
    if (batch.ids.length >= this.maxBatch) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return batch.done;
  }

  /**
   * A read is about to go out: leave the queued acknowledgements for it (see `takeInto`). With
   * `maxMs`, they go out on their own if no read has taken them by then (a read sent ahead that
   * is still in flight, whose reply may take until its BLOCK ends).
   */
  holdForRead(maxMs?: number): void {
    this.heldForRead = true;
    if (maxMs !== undefined && this.holdTimer === undefined) {
      this.holdTimer = setTimeout(() => {
        this.holdTimer = undefined;
        this.heldForRead = false;
        this.flush();
      }, maxMs);
    }
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
    if (this.holdTimer !== undefined) {
      clearTimeout(this.holdTimer);
      this.holdTimer = undefined;
    }
    if (!pipeline) {
      this.flush();
      return;
    }
    const batch = this.take();
    if (!batch) return;
    const timer =
      timeoutMs > 0
        ? setTimeout(
            () => batch.finish(new Error(`no answer to XACK within ${timeoutMs} ms`)),
            timeoutMs,
          )
        : undefined;
    pipeline.xack(this.stream, this.group, ...batch.ids, (error?: Error | null) => {
      clearTimeout(timer);
      batch.finish(error ?? null);
    });
  }

  private flush(): void {
    this.scheduled = false;
    if (this.heldForRead) return;
    const batch = this.take();
    if (!batch) return;
    this.redis()
      .xack(this.stream, this.group, ...batch.ids)
      .then(
        () => batch.finish(null),
        (error: unknown) => batch.finish(error),
      );
  }

  /** The batch queued so far, if any; later acknowledgements go into a new one. */
  private take(): Batch | undefined {
    const batch = this.batch;
    if (batch.ids.length === 0) return undefined;
    this.batch = new Batch();
    return batch;
  }
}
