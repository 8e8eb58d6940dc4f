/**
 * Thrown by a handler when the destination is busy, not the message bad (a receiver answering
 * 429 or 503, a quota used up): no attempt is spent. With `delayMs`, the whole group pauses that
 * long on every instance before it starts new calls, then resumes gradually; without it, the
 * entry alone is tried again after a short wait.
 */
export class RetryLaterError extends Error {
  constructor(
    message: string,
    readonly delayMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RetryLaterError';
  }
}
