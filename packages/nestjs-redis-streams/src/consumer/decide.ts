import { isInfrastructureError } from '../errors/infrastructure-error.js';
import { NonRetryableError } from '../errors/non-retryable.error.js';
import type { RetryPolicy } from './retry-policy.js';
import { RetryLaterError } from '../errors/retry-later.error.js';
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
  | { action: 'busy'; delayMs?: number; entryDelayMs: number; reason: string }
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
  /** How often the entry was tried, busy signals included: without a delay, they back off. */
  tries = attempt,
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
    // Without a delay the entry alone waits, backing off as for a failure but spending nothing.
    const entryDelayMs = error.delayMs ?? policy.delayMs(tries);
    const wait = underDeadline(deadline, entryDelayMs, attempt, reason);
    if ('action' in wait) return wait;
    // The group still pauses as long as the destination asked; this entry tries by its deadline.
    return { action: 'busy', delayMs: error.delayMs, entryDelayMs: wait.delayMs, reason };
  }
  if (policy.exhausted(attempt)) {
    return {
      action: 'dead-letter',
      reason: `gave up after ${attempt} attempts: ${reason}`,
      limit: 'attempts',
    };
  }
  const wait = underDeadline(deadline, policy.delayMs(attempt), attempt, reason);
  return 'action' in wait ? wait : { action: 'retry', delayMs: wait.delayMs, reason };
}

/** How old the entry is, and the most it may be (`maxAgeMs`). */
export interface Deadline {
  ageMs: number;
  maxAgeMs: number;
}

/**
 * Trying again in `delayMs` under the delivery deadline: a dead letter once the deadline has
 * passed; before it, the wait is cut short so that the last try comes at the deadline, not after.
 */
export function underDeadline(
  deadline: Deadline | undefined,
  delayMs: number,
  attempt: number,
  reason: string,
): { delayMs: number } | Decision {
  if (!deadline) return { delayMs };
  const left = deadline.maxAgeMs - deadline.ageMs;
  if (left > 0) return { delayMs: Math.min(delayMs, left) };
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
