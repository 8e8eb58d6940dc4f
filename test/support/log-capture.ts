type Write = typeof process.stdout.write;

/**
 * Collects what this process writes to stdout and stderr (where Nest's logger prints) while it is
 * started, so an in-process test can check the logs. Output still reaches the terminal when
 * TEST_LOGS is set.
 */
export class LogCapture {
  private readonly chunks: string[] = [];
  private readonly originals: Array<[NodeJS.WriteStream, Write]> = [];

  private constructor() {}

  static start(): LogCapture {
    const capture = new LogCapture();
    for (const stream of [process.stdout, process.stderr]) {
      const original = stream.write;
      capture.originals.push([stream, original]);
      stream.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
        capture.chunks.push(
          typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString(),
        );
        if (!process.env.TEST_LOGS) {
          const callback = rest.find((arg) => typeof arg === 'function') as
            (() => void) | undefined;
          callback?.();
          return true;
        }
        return (original as (...args: unknown[]) => boolean).call(stream, chunk, ...rest);
      }) as Write;
    }
    return capture;
  }

  /** Everything written so far, colours removed. */
  text(): string {
    // eslint-disable-next-line no-control-regex
    return this.chunks.join('').replace(/\x1b\[[0-9;]*m/g, '');
  }

  /** Puts the real streams back; safe to call twice. */
  stop(): void {
    for (const [stream, original] of this.originals.splice(0)) stream.write = original;
  }
}
