import { DEFAULTS } from '../redis-streams.constants.js';

/** A wait that does not keep the process alive on its own. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Waits `ms`, but wakes at once when `signal` aborts (a consumer stopping). */
export function pauseUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const wake = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    signal.addEventListener('abort', wake);
  });
}

/** What `withTimeout` rejects with when the work did not finish in time. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/**
 * `work`, bounded in time: rejects after `ms` (with `timeoutError()`, or a TimeoutError) unless
 * it settled first. The work itself goes on; only the wait for it ends.
 */
export function withTimeout<T>(
  work: Promise<T>,
  ms: number,
  timeoutError: () => Error = () => new TimeoutError(`no answer within ${ms} ms`),
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError()), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** Waits for `work` at most `ms`: whether it settled in time (a failure counts as settled). */
export async function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settles = work.then(
    () => true,
    () => true,
  );
  try {
    return await Promise.race([settles, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The wait after the `failures`-th failure in a row to reach Redis (a read, a heartbeat):
 * exponential from DEFAULTS.reconnectBaseDelayMs, capped at DEFAULTS.reconnectMaxDelayMs.
 */
export function reconnectDelayMs(failures: number): number {
  return Math.min(
    DEFAULTS.reconnectBaseDelayMs * 2 ** Math.min(failures, 10),
    DEFAULTS.reconnectMaxDelayMs,
  );
}

/** Lets the rest of this turn of the event loop run (I/O callbacks, other handlers) first. */
export function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
