import { DEFAULTS } from '../redis-streams.constants.js';
import {
  pauseUnlessAborted,
  reconnectDelayMs,
  settledWithin,
  TimeoutError,
  withTimeout,
} from './waits.js';

/** A promise that never settles: work that hangs. */
const never = (): Promise<never> => new Promise<never>(() => undefined);
const after = <T>(ms: number, value: T): Promise<T> =>
  new Promise((resolve) => setTimeout(() => resolve(value), ms));

describe('withTimeout', () => {
  it('rejects with a TimeoutError once `ms` pass without an answer', async () => {
    const started = Date.now();
    const error = await withTimeout(never(), 30).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).name).toBe('TimeoutError');
    expect((error as Error).message).toBe('no answer within 30 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('rejects with the error the caller makes, when given', async () => {
    await expect(withTimeout(never(), 10, () => new RangeError('too slow'))).rejects.toThrow(
      new RangeError('too slow'),
    );
  });

  it('passes a value through as soon as the work settles', async () => {
    const started = Date.now();
    await expect(withTimeout(after(10, 'value'), 5_000)).resolves.toBe('value');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('passes the work’s own error through, not a timeout', async () => {
    const own = new Error('work failed');
    await expect(withTimeout(Promise.reject(own), 5_000)).rejects.toBe(own);
  });

  it('does not hold the process with its timer once the work settled', async () => {
    // The timer is cleared: no timeout fires later (it would reject nobody, but keep Node alive).
    const handles = (): number =>
      (process as unknown as { getActiveResourcesInfo(): string[] })
        .getActiveResourcesInfo()
        .filter((name) => name === 'Timeout').length;
    const before = handles();
    await withTimeout(Promise.resolve(1), 60_000);
    expect(handles()).toBe(before);
  });
});

describe('settledWithin', () => {
  it('is true for work that resolves in time', async () => {
    await expect(settledWithin(after(5, 'x'), 1_000)).resolves.toBe(true);
  });

  it('is true for work that fails in time: failing is settling', async () => {
    await expect(settledWithin(Promise.reject(new Error('failed')), 1_000)).resolves.toBe(true);
  });

  it('is true for work whose own error happens to be a TimeoutError', async () => {
    await expect(settledWithin(Promise.reject(new TimeoutError('own')), 1_000)).resolves.toBe(true);
  });

  it('is false for work that does not settle in time', async () => {
    const started = Date.now();
    await expect(settledWithin(never(), 20)).resolves.toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
  });
});

describe('pauseUnlessAborted', () => {
  it('waits the time it is given', async () => {
    const started = Date.now();
    await pauseUnlessAborted(30, new AbortController().signal);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('wakes at once when the signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pause = pauseUnlessAborted(10_000, controller.signal);
    setTimeout(() => controller.abort(), 10);
    await pause;
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('does not wait at all when the signal has aborted already', async () => {
    const controller = new AbortController();
    controller.abort();
    const started = Date.now();
    await pauseUnlessAborted(10_000, controller.signal);
    expect(Date.now() - started).toBeLessThan(100);
  });
});

describe('reconnectDelayMs', () => {
  it('doubles from the base with each failure', () => {
    const base = DEFAULTS.reconnectBaseDelayMs;
    expect(reconnectDelayMs(0)).toBe(base);
    expect(reconnectDelayMs(1)).toBe(base * 2);
    expect(reconnectDelayMs(2)).toBe(base * 4);
  });

  it('never waits longer than the cap, however many failures', () => {
    expect(reconnectDelayMs(30)).toBe(DEFAULTS.reconnectMaxDelayMs);
    expect(reconnectDelayMs(10_000)).toBe(DEFAULTS.reconnectMaxDelayMs);
    for (let n = 1; n < 40; n++) {
      expect(reconnectDelayMs(n)).toBeGreaterThanOrEqual(reconnectDelayMs(n - 1));
    }
  });
});
