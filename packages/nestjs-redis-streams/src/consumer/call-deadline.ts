import { HandlerTimeoutError } from '../errors/handler-timeout.error.js';

/**
 * Runs a handler call with a signal that aborts at `timeoutMs` (or when `stopSignal` does), and
 * gives up on it then with a HandlerTimeoutError: the call may go on, but nobody waits for it, and
 * a failure it meets afterwards is ignored. One rule for single and batch handlers.
 */
export async function callWithDeadline<T>(
  timeoutMs: number,
  stopSignal: AbortSignal,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeout = new AbortController();
  const signal = AbortSignal.any([stopSignal, timeout.signal]);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new HandlerTimeoutError(timeoutMs);
      timeout.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    const handled = call(signal);
    handled.catch(() => undefined);
    return await Promise.race([handled, late]);
  } finally {
    clearTimeout(timer);
  }
}
