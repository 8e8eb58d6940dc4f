/**
 * Runs `tick` again and again, `intervalMs` after the end of the last run, so that runs never
 * overlap however long one takes, until stopped. A run that throws is reported to `onError` and
 * the next one comes as usual. The timer does not keep the process alive on its own.
 */
export class Ticker {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** Counts starts, so that a run still under way from before a stop schedules nothing. */
  private generation = 0;
  private current?: Promise<void>;

  constructor(
    private readonly intervalMs: number,
    private readonly tick: () => unknown,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Starts ticking: the first run after one interval, or at once with `immediately`. */
  start(immediately = false): void {
    this.stopped = false;
    this.generation += 1;
    if (immediately) void this.run(this.generation);
    else this.schedule(this.generation);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(generation: number): void {
    if (this.stopped || generation !== this.generation) return;
    this.timer = setTimeout(() => void this.run(generation), this.intervalMs);
    this.timer.unref();
  }

  private async run(generation: number): Promise<void> {
    // A run from before a stop and start may still be under way: never two at once.
    while (this.current) await this.current;
    if (this.stopped || generation !== this.generation) return;
    this.current = this.tickOnce();
    await this.current;
    this.current = undefined;
    this.schedule(generation);
  }

  private async tickOnce(): Promise<void> {
    try {
      await this.tick();
    } catch (error) {
      this.onError(error);
    }
  }
}
