/**
 * Runs `tick` again and again, `intervalMs` after the end of the last run, so that runs never
 * overlap however long one takes, until stopped. A run that throws is reported to `onError` and
 * the next one comes as usual. The timer does not keep the process alive on its own.
 */
export class Ticker {
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly tick: () => unknown,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Starts ticking: the first run after one interval, or at once with `immediately`. */
  start(immediately = false): void {
    this.stopped = false;
    if (immediately) void this.run();
    else this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.run(), this.intervalMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    try {
      await this.tick();
    } catch (error) {
      this.onError(error);
    }
    this.schedule();
  }
}
