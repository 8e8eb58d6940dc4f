/** A handler call ran past its `timeoutMs`: a failed attempt, retried and dead-lettered as any. */
export class HandlerTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`the handler did not settle within timeoutMs ${timeoutMs} ms`);
    this.name = 'HandlerTimeoutError';
  }
}
