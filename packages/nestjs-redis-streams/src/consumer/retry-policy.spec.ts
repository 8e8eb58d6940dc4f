import { RetryPolicy } from './retry-policy.js';

describe('RetryPolicy', () => {
  it('doubles the wait per attempt up to the cap, with jitter within [half, full]', () => {
    const low = new RetryPolicy(10, { baseMs: 100, maxMs: 1_000 }, () => 0);
    const high = new RetryPolicy(10, { baseMs: 100, maxMs: 1_000 }, () => 1);
    expect([1, 2, 3, 4, 5, 6].map((n) => low.delayMs(n))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([1, 2, 3, 4, 5, 6].map((n) => high.delayMs(n))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
  });

  it('never lets a later wait be shorter than an earlier one below the cap', () => {
    const policy = new RetryPolicy(10, { baseMs: 100, maxMs: 100_000 });
    for (let n = 1; n < 8; n++) {
      const worstNext = new RetryPolicy(10, policy.backoff, () => 0).delayMs(n + 1);
      const bestThis = new RetryPolicy(10, policy.backoff, () => 1).delayMs(n);
      expect(worstNext).toBeGreaterThanOrEqual(bestThis);
    }
  });

  it('is exhausted at maxAttempts', () => {
    const policy = new RetryPolicy(3, { baseMs: 1, maxMs: 1 });
    expect(policy.exhausted(2)).toBe(false);
    expect(policy.exhausted(3)).toBe(true);
  });

  it('rejects nonsense settings', () => {
    expect(() => new RetryPolicy(0, { baseMs: 1, maxMs: 1 })).toThrow(RangeError);
    expect(() => new RetryPolicy(1, { baseMs: 10, maxMs: 1 })).toThrow(RangeError);
  });
});
