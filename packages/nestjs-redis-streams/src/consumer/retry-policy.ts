import type { BackoffOptions } from '../interfaces/stream-handler.interface.js';

/**
 * Exponential backoff with "equal jitter": the wait after the n-th failed attempt lies between
 * half and all of min(maxMs, baseMs·2^(n-1)). Half is fixed so that waits grow from one attempt to
 * the next; the random half spreads out retries of many entries that failed together.
 */
export class RetryPolicy {
  constructor(
    readonly maxAttempts: number,
    readonly backoff: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1)
      throw new RangeError('maxAttempts must be an integer >= 1');
    if (backoff.baseMs < 0 || backoff.maxMs < backoff.baseMs) {
      throw new RangeError('backoff needs 0 <= baseMs <= maxMs');
    }
  }

  /** Whether the attempt that just failed was the last one allowed. */
  exhausted(attempt: number): boolean {
    return attempt >= this.maxAttempts;
  }

  /** Milliseconds to wait after failed attempt number `attempt` (1-based). */
  delayMs(attempt: number): number {
    const ceiling = Math.min(
      this.backoff.maxMs,
      this.backoff.baseMs * 2 ** Math.min(attempt - 1, 30),
    );
    const half = ceiling / 2;
    return Math.round(half + this.random() * half);
  }
}
