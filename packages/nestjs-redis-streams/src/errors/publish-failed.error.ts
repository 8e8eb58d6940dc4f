import type { PublishResult } from '../interfaces/publish.interface.js';

/**
 * Redis did not confirm the entry: it may be unreachable, slow, or refusing writes. The entry may
 * still have been appended (a reply lost, a timeout): publishing again with the same eventId does
 * not duplicate it.
 */
export class PublishFailedError extends Error {
  constructor(stream: string, cause: unknown, message?: string) {
    super(
      message ??
        `Could not publish to stream "${stream}": ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
    this.name = 'PublishFailedError';
  }
}

/** What became of one item of a `publishMany` batch. */
export type PublishItemOutcome =
  | { status: 'published'; result: PublishResult }
  | {
      status: 'failed';
      /** The eventId the item was sent with (generated when the item had none): retry with it. */
      eventId: string;
      error: PublishFailedError;
    };

/**
 * Some items of a `publishMany` batch were not confirmed (or none were); `outcomes` says, in the
 * order of the items, which were published (with their result) and which failed. Retry only the
 * failed ones, each with the eventId given here. An item whose reply was lost may be in the stream
 * after all: if its eventId was the caller's, the retry then appends nothing; an eventId the
 * publisher generated kept no de-duplication key, so give items your own eventIds when their
 * retries must not duplicate.
 */
export class PublishManyError extends PublishFailedError {
  /** How many items failed. */
  readonly failed: number;

  constructor(
    stream: string,
    readonly outcomes: PublishItemOutcome[],
  ) {
    const failures = outcomes.filter((outcome) => outcome.status === 'failed');
    const first = failures[0]?.error;
    super(
      stream,
      first,
      `Could not publish ${failures.length} of ${outcomes.length} events to stream "${stream}" ` +
        `(the others were published; see outcomes): ${first?.message ?? 'unknown error'}`,
    );
    this.name = 'PublishManyError';
    this.failed = failures.length;
  }
}
