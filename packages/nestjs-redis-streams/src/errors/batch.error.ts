import type { BatchItemFailure } from '../interfaces/stream-handler.interface.js';

/**
 * Thrown by a batch handler (`batch` option) to say which items failed, each with its own error,
 * as returning `{ failed }` does: useful where the failure surfaces as an exception (deep in a
 * call, or through an interceptor). Items not named succeeded and are acknowledged. Any other
 * error a batch handler throws fails every item of the batch.
 */
export class BatchError extends Error {
  constructor(
    readonly failures: readonly BatchItemFailure[],
    message = `${failures.length} ${failures.length === 1 ? 'item' : 'items'} of the batch failed`,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BatchError';
  }
}
