import { Ticker } from './ticker.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `done` until it holds, failing after `timeoutMs`. */
async function until(done: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('Ticker', () => {
  const tickers: Ticker[] = [];
  const ticker = (intervalMs: number, tick: () => unknown, onError = fail): Ticker => {
    const made = new Ticker(intervalMs, tick, onError);
    tickers.push(made);
    return made;
  };
  function fail(error: unknown): void {
    throw new Error(`unexpected tick error: ${String(error)}`);
  }

  afterEach(() => {
    for (const made of tickers.splice(0)) made.stop();
  });

  it('never overlaps runs when stopped and started again while a run is under way', async () => {
    let running = 0;
    let most = 0;
    let runs = 0;
    let finishFirst!: () => void;
    const first = new Promise<void>((resolve) => (finishFirst = resolve));
    const made = ticker(5, async () => {
      running += 1;
      most = Math.max(most, running);
      runs += 1;
      if (runs === 1) await first;
      else await sleep(2);
      running -= 1;
    });
    made.start(true);
    made.stop();
    made.start();
    // The restarted ticker waits for the run still under way.
    await sleep(50);
    expect(runs).toBe(1);
    finishFirst();
    await until(() => runs >= 6, 'more runs');
    expect(most).toBe(1);
  });

  it('runs the tick again and again', async () => {
    let runs = 0;
    ticker(5, () => (runs += 1)).start();
    await until(() => runs >= 5, 'five runs');
  });

  it('waits one interval before the first run, unless started immediately', async () => {
    let later = 0;
    ticker(10_000, () => (later += 1)).start();
    let now = 0;
    ticker(10_000, () => (now += 1)).start(true);
    expect(now).toBe(1);
    await sleep(30);
    expect(later).toBe(0);
    expect(now).toBe(1);
  });

  it('never overlaps a slow tick, and waits the interval after its end', async () => {
    let running = 0;
    let most = 0;
    const ends: number[] = [];
    const starts: number[] = [];
    ticker(5, async () => {
      starts.push(Date.now());
      running += 1;
      most = Math.max(most, running);
      await sleep(40);
      running -= 1;
      ends.push(Date.now());
    }).start(true);
    await until(() => ends.length >= 3, 'three slow runs');
    expect(most).toBe(1);
    for (let i = 1; i < 3; i++) expect(starts[i]).toBeGreaterThanOrEqual(ends[i - 1]);
  });

  it('reports a tick that throws or rejects, and carries on', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    ticker(
      5,
      () => {
        runs += 1;
        if (runs === 1) throw new Error('thrown');
        if (runs === 2) return Promise.reject(new Error('rejected'));
        return undefined;
      },
      (error) => errors.push(error),
    ).start(true);
    await until(() => runs >= 4, 'runs after the failures');
    expect(errors.map((error) => (error as Error).message)).toEqual(['thrown', 'rejected']);
  });

  it('stops: no run after stop', async () => {
    let runs = 0;
    const made = ticker(5, () => (runs += 1));
    made.start();
    await until(() => runs >= 2, 'two runs');
    made.stop();
    const stoppedAt = runs;
    await sleep(50);
    expect(runs).toBe(stoppedAt);
  });

  it('stopped during a run, schedules nothing after it', async () => {
    let runs = 0;
    let finish!: () => void;
    const made = ticker(5, () => {
      runs += 1;
      return new Promise<void>((resolve) => (finish = resolve));
    });
    made.start(true);
    expect(runs).toBe(1);
    made.stop();
    finish();
    await sleep(50);
    expect(runs).toBe(1);
  });

  it('stopped before its first run, never runs', async () => {
    let runs = 0;
    const made = ticker(5, () => (runs += 1));
    made.start();
    made.stop();
    await sleep(40);
    expect(runs).toBe(0);
  });
});
