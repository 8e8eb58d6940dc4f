import { isInfrastructureError } from '../infrastructure-error.js';
import { NonRetryableError } from '../non-retryable.error.js';
import type { RetryPolicy } from '../retry-policy.js';
import { RetryLaterError } from '../retry-later.error.js';
import type { Invocation } from './handler-invoker.js';

/**
 * What becomes of an entry after one invocation. The same for every consumer; only how a
 * decision is carried out differs (see GroupSettler and FencedSettler).
 * - `ack`: done; acknowledge it (an event handled before is acknowledged without running again).
 * - `retry`: the attempt failed; run it again after `delayMs`.
 * - `dead-letter`: it can never succeed, or the attempts ran out; `reason` says which and why.
 * - `defer`: not now, and not its fault (another delivery of the same event is running); run it
 *   again after `delayMs` without spending an attempt.
 * - `wait-for-redis`: Redis failed a call made for it; no attempt is spent, it waits and runs again.
 * - `busy`: the destination is busy (RetryLaterError); no attempt is spent; with `delayMs`, the
 *   whole group waits that long.
 * A delivery deadline (`maxAgeMs`) turns a retry or a busy wait that would end past it into a
 * dead letter whose reason names the deadline.
 */
export type Decision =
  | { action: 'ack' }
  | { action: 'busy'; delayMs?: number; reason: string }
  | { action: 'retry'; delayMs: number; reason: string }
  | { action: 'dead-letter'; reason: string; limit?: 'attempts' | 'deadline' }
  | { action: 'defer'; delayMs: number }
  | { action: 'wait-for-redis'; error: unknown };

/**
 * Decides on an invocation of attempt `attempt` under `policy`; `busyDelayMs` is how soon an entry
 * whose event runs elsewhere is looked at again.
 */
export function decide(
  policy: RetryPolicy,
  attempt: number,
  invocation: Invocation,
  busyDelayMs: number,
  deadline?: Deadline,
): Decision {
  switch (invocation.outcome) {
    case 'handled':
    case 'duplicate':
      return { action: 'ack' };
    case 'event-busy':
      return { action: 'defer', delayMs: busyDelayMs };
    case 'failed':
      break;
  }
  const { error } = invocation;
  if (isInfrastructureError(error)) return { action: 'wait-for-redis', error };
  const reason = describeError(error);
  if (error instanceof NonRetryableError) return { action: 'dead-letter', reason };
  if (error instanceof RetryLaterError) {
    const late = pastDeadline(deadline, error.delayMs ?? busyDelayMs, attempt, reason);
    return late ?? { action: 'busy', delayMs: error.delayMs, reason };
  }
  if (policy.exhausted(attempt)) {
    return {
      action: 'dead-letter',
      reason: `gave up after ${attempt} attempts: ${reason}`,
      limit: 'attempts',
    };
  }
  const delayMs = policy.delayMs(attempt);
  return pastDeadline(deadline, delayMs, attempt, reason) ?? { action: 'retry', delayMs, reason };
}

/** How old the entry is, and the most it may be (`maxAgeMs`). */
export interface Deadline {
  ageMs: number;
  maxAgeMs: number;
}

/** A dead letter when trying again in `delayMs` would be past the delivery deadline. */
export function pastDeadline(
  deadline: Deadline | undefined,
  delayMs: number,
  attempt: number,
  reason: string,
): Decision | undefined {
  if (!deadline || deadline.ageMs + delayMs <= deadline.maxAgeMs) return undefined;
  return {
    action: 'dead-letter',
    limit: 'deadline',
    reason: `gave up at the delivery deadline (maxAgeMs ${deadline.maxAgeMs}, ${attempt} attempts): ${reason}`,
  };
}

/**
 * How soon an entry that is not to blame is looked at again (its event runs elsewhere, or the
 * destination is busy without saying for how long): a tenth of the lease it would outlast, within
 * 100 ms to 1 s.
 */
export function busyDelayMs(leaseMs: number): number {
  return Math.min(Math.max(Math.floor(leaseMs / 10), 100), 1_000);
}

/** An error as log lines and dead letters show it: `Name: message`. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
