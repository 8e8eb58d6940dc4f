import { settledWithin, withTimeout } from './waits.js';

/** Work that hangs. */
const never = (): Promise<never> => new Promise<never>(() => undefined);

describe('withTimeout', () => {
  it('rejects once `ms` pass without an answer, saying how long it waited', async () => {
    await expect(withTimeout(never(), 20)).rejects.toThrow('no answer within 20 ms');
  });

  it('passes the value, or the work’s own error, through when the work settles in time', async () => {
    await expect(withTimeout(Promise.resolve('value'), 5_000)).resolves.toBe('value');
    const own = new Error('work failed');
    await expect(withTimeout(Promise.reject(own), 5_000)).rejects.toBe(own);
  });
});

describe('settledWithin', () => {
  it('is true for work that resolves or fails in time, false for work that hangs', async () => {
    await expect(settledWithin(Promise.resolve(1), 1_000)).resolves.toBe(true);
    await expect(settledWithin(Promise.reject(new Error('failed')), 1_000)).resolves.toBe(true);
    await expect(settledWithin(never(), 20)).resolves.toBe(false);
  });
});
