import { InfrastructureError } from '../errors/infrastructure-error.js';
import { NonRetryableError } from '../errors/non-retryable.error.js';
import { RetryPolicy } from './retry-policy.js';
import { decide, describeError } from './decide.js';
import type { Invocation } from './handler-invoker.js';
import { RetryLaterError } from '../errors/retry-later.error.js';

// random() = 0.5: the wait after attempt n is three quarters of min(maxMs, baseMs·2^(n-1)).
const policy = new RetryPolicy(3, { baseMs: 100, maxMs: 1_000 }, () => 0.5);
const BUSY_MS = 250;
const entry = { id: '1-0', fields: ['eventId', 'e-1'] };

const failed = (error: unknown): Invocation => ({
  entry,
  eventId: 'e-1',
  outcome: 'failed',
  error,
});

describe('decide', () => {
  it('acknowledges a handled entry', () => {
    const invocation: Invocation = { entry, eventId: 'e-1', outcome: 'handled', durationMs: 3 };
    expect(decide(policy, 1, invocation, BUSY_MS)).toEqual({ action: 'ack' });
  });

  it('acknowledges a duplicate, also on its last attempt', () => {
    const invocation: Invocation = { entry, eventId: 'e-1', outcome: 'duplicate' };
    expect(decide(policy, 3, invocation, BUSY_MS)).toEqual({ action: 'ack' });
  });

  it('defers an entry whose event runs elsewhere, by the busy delay, without judging attempts', () => {
    const invocation: Invocation = { entry, eventId: 'e-1', outcome: 'event-busy' };
    expect(decide(policy, 1, invocation, BUSY_MS)).toEqual({ action: 'defer', delayMs: BUSY_MS });
    // Even past maxAttempts: a busy event is not the entry's failure.
    expect(decide(policy, 7, invocation, BUSY_MS)).toEqual({ action: 'defer', delayMs: BUSY_MS });
  });

  it('waits for Redis when a handler reports Redis full, on any attempt', () => {
    const oom = new Error("OOM command not allowed when used memory > 'maxmemory'.");
    expect(decide(policy, 1, failed(oom), BUSY_MS)).toEqual({
      action: 'wait-for-redis',
      error: oom,
    });
    // The last attempt is not spent on it either.
    expect(decide(policy, 3, failed(oom), BUSY_MS)).toEqual({
      action: 'wait-for-redis',
      error: oom,
    });
  });

  it("waits for Redis when the library's own call failed (InfrastructureError)", () => {
    const error = new InfrastructureError('claim the eventId', { cause: new Error('boom') });
    expect(decide(policy, 3, failed(error), BUSY_MS)).toEqual({ action: 'wait-for-redis', error });
  });

  it('waits for Redis on a lost connection, but retries a refused socket (a receiver down)', () => {
    const closed = new Error('Connection is closed.');
    expect(decide(policy, 1, failed(closed), BUSY_MS).action).toBe('wait-for-redis');
    const refused = new Error('connect ECONNREFUSED 127.0.0.1:9');
    expect(decide(policy, 1, failed(refused), BUSY_MS).action).toBe('retry');
  });

  it('dead-letters a NonRetryableError at once, with its reason', () => {
    const error = new NonRetryableError('payload failed validation: name: must be a string');
    expect(decide(policy, 1, failed(error), BUSY_MS)).toEqual({
      action: 'dead-letter',
      reason: 'NonRetryableError: payload failed validation: name: must be a string',
    });
  });

  it('retries with the delay the policy gives for the attempt', () => {
    const error = new TypeError('cannot read x');
    expect(decide(policy, 1, failed(error), BUSY_MS)).toEqual({
      action: 'retry',
      delayMs: 75,
      reason: 'TypeError: cannot read x',
    });
    expect(decide(policy, 2, failed(error), BUSY_MS)).toEqual({
      action: 'retry',
      delayMs: 150,
      reason: 'TypeError: cannot read x',
    });
  });

  it('dead-letters once the attempts are spent, saying how many', () => {
    const error = new Error('webhook answered 500');
    expect(decide(policy, 3, failed(error), BUSY_MS)).toEqual({
      action: 'dead-letter',
      limit: 'attempts',
      reason: 'gave up after 3 attempts: Error: webhook answered 500',
    });
  });

  it('makes a busy signal a busy decision, spending nothing, with the delay it asked for', () => {
    expect(decide(policy, 3, failed(new RetryLaterError('429', 1_500)), BUSY_MS)).toEqual({
      action: 'busy',
      delayMs: 1_500,
      entryDelayMs: 1_500,
      reason: 'RetryLaterError: 429',
    });
  });

  it('backs a busy entry without a delay off by its tries, pausing no group and spending nothing', () => {
    // random 0.5: half fixed, half of the rest: 75 ms after the first try, 150 after the second.
    expect(decide(policy, 1, failed(new RetryLaterError('503')), BUSY_MS, undefined, 1)).toEqual({
      action: 'busy',
      delayMs: undefined,
      entryDelayMs: 75,
      reason: 'RetryLaterError: 503',
    });
    expect(decide(policy, 1, failed(new RetryLaterError('503')), BUSY_MS, undefined, 2)).toEqual(
      expect.objectContaining({ action: 'busy', entryDelayMs: 150 }),
    );
  });

  it('tries last at the delivery deadline, then dead-letters saying so', () => {
    // Before the deadline, the wait is cut short so that the last try comes at the deadline.
    expect(
      decide(policy, 1, failed(new Error('down')), BUSY_MS, { ageMs: 9_000, maxAgeMs: 9_050 }),
    ).toEqual({ action: 'retry', delayMs: 50, reason: 'Error: down' });
    const deadline = { ageMs: 9_050, maxAgeMs: 9_050 };
    expect(decide(policy, 1, failed(new Error('down')), BUSY_MS, deadline)).toEqual({
      action: 'dead-letter',
      limit: 'deadline',
      reason: 'gave up at the delivery deadline (maxAgeMs 9050, 1 attempts): Error: down',
    });
    expect(decide(policy, 1, failed(new RetryLaterError('429', 1_000)), BUSY_MS, deadline)).toEqual(
      expect.objectContaining({ action: 'dead-letter', limit: 'deadline' }),
    );
    expect(
      decide(policy, 1, failed(new Error('down')), BUSY_MS, { ageMs: 0, maxAgeMs: 60_000 }),
    ).toEqual(expect.objectContaining({ action: 'retry' }));
    // A late retry of an entry past its attempts (maxAttempts lowered since) is not retried again.
    expect(decide(policy, 5, failed(new Error('webhook answered 500')), BUSY_MS)).toEqual({
      action: 'dead-letter',
      limit: 'attempts',
      reason: 'gave up after 5 attempts: Error: webhook answered 500',
    });
  });

  it('judges a thrown value that is not an Error by its text', () => {
    expect(decide(policy, 1, failed('just a string'), BUSY_MS)).toEqual({
      action: 'retry',
      delayMs: 75,
      reason: 'just a string',
    });
  });
});

describe('describeError', () => {
  it('shows an error as `Name: message`', () => {
    expect(describeError(new RangeError('too far'))).toBe('RangeError: too far');
    expect(describeError(new NonRetryableError('bad'))).toBe('NonRetryableError: bad');
  });

  it('shows anything else as text', () => {
    expect(describeError(42)).toBe('42');
    expect(describeError(undefined)).toBe('undefined');
  });
});
