/** Thrown by a handler when trying again cannot help: the entry goes to the dead-letter stream at once. */
export class NonRetryableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NonRetryableError';
  }
}
