import type { RedisClient } from '../redis/redis-connections.js';
import { settled } from '../publisher/write-together.js';

/**
 * One XACK's worth of ids, and who learns how it went: callers of `ack` share one promise (made
 * only when one asks), callers of `ackThen` are told through the batcher's `onSettled`, with
 * their job, without a promise each.
 */
class Batch<J> {
  readonly ids: string[] = [];
  readonly jobs: J[] = [];
  private promise?: Promise<void>;
  private settle?: (error: unknown) => void;
  private settled = false;
  private error: unknown = null;

  constructor(private readonly onSettled: (jobs: J[], error: unknown) => void) {}

  get done(): Promise<void> {
    if (!this.promise) {
      this.promise = new Promise<void>((resolve, reject) => {
        this.settle = (error) => (error ? reject(error) : resolve());
      });
      if (this.settled) this.settle!(this.error);
      // Nobody may be waiting when it fails (all callers gone): not an unhandled rejection.
      this.promise.catch(() => undefined);
    }
    return this.promise;
  }

  finish(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.error = error;
    this.settle?.(error);
    if (this.jobs.length > 0) this.onSettled(this.jobs, error ?? null);
  }
}

/**
 * Acknowledges entries of one group in batches: ids whose handlers finish in the same turn of the
 * event loop go out as one `XACK stream group id id ...` instead of one command each, and their
 * callers share one promise. Each caller still learns whether its own entry was acknowledged, so
 * an entry is never reported done before Redis has the acknowledgement.
 *
 * When the consumer is about to read again, the batch rides on that read instead: the read loop
 * calls `holdForRead`, then `takeInto` with its read connection just before it sends the read, so
 * the XACK and the next XREADGROUP leave in one write (as a hand-written loop does it). Redis
 * answers the XACK before it blocks on the read, so the acknowledgement is confirmed just as fast.
 */
export class AckBatcher<J = never> {
  private batch: Batch<J>;
  private scheduled = false;
  private heldForRead = false;
  private holdTimer?: NodeJS.Timeout;

  constructor(
    private readonly redis: () => RedisClient,
    private readonly stream: string,
    private readonly group: string,
    /** Told how each batch with `ackThen` jobs went: error null when Redis acknowledged it. */
    private readonly onSettled: (jobs: J[], error: unknown) => void = () => undefined,
    private readonly maxBatch = 500,
  ) {
    this.batch = new Batch(onSettled);
  }

  ack(id: string): Promise<void> {
    const batch = this.batch;
    this.add(id);
    return batch.done;
  }

  /** Like `ack`, for the hot path: `onSettled` gets `job` once the batch is confirmed or failed. */
  ackThen(id: string, job: J): void {
    this.batch.jobs.push(job);
    this.add(id);
  }

  private add(id: string): void {
    const batch = this.batch;
    batch.ids.push(id);
    if (batch.ids.length >= this.maxBatch) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
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
   * Sends every queued acknowledgement on `redis`, the connection of the read the caller sends
   * next, or, without one (no read after all), on the command connection. Ends `holdForRead`.
   * Redis answers an XACK at once; without an answer within `timeoutMs` (a connection that is
   * open but dead, on which a blocking read only ends by its client-side timeout) the callers
   * learn it failed and acknowledge again.
   */
  takeInto(redis: RedisClient | undefined, timeoutMs = 0): void {
    this.heldForRead = false;
    if (this.holdTimer !== undefined) {
      clearTimeout(this.holdTimer);
      this.holdTimer = undefined;
    }
    if (!redis) {
      this.flush();
      return;
    }
    const batch = this.take();
    if (batch) this.send(batch, redis, timeoutMs);
  }

  private flush(): void {
    this.scheduled = false;
    if (this.heldForRead) return;
    const batch = this.take();
    if (batch) this.send(batch, this.redis(), 0);
  }

  /**
   * Sends the batch's XACK on `redis`: the batch finishes with Redis's answer, or fails after
   * `timeoutMs` (0: no limit) without one.
   */
  private send(batch: Batch<J>, redis: RedisClient, timeoutMs: number): void {
    const timer =
      timeoutMs > 0
        ? setTimeout(
            () => batch.finish(new Error(`no answer to XACK within ${timeoutMs} ms`)),
            timeoutMs,
          )
        : undefined;
    void settled(redis.xack(this.stream, this.group, ...batch.ids)).then(([error]) => {
      clearTimeout(timer);
      batch.finish(error);
    });
  }

  /** The batch queued so far, if any; later acknowledgements go into a new one. */
  private take(): Batch<J> | undefined {
    const batch = this.batch;
    if (batch.ids.length === 0) return undefined;
    this.batch = new Batch(this.onSettled);
    return batch;
  }
}
