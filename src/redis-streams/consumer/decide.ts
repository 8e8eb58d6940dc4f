import { isInfrastructureError } from '../infrastructure-error.js';
import { NonRetryableError } from '../non-retryable.error.js';
import type { RetryPolicy } from '../retry-policy.js';
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
 */
export type Decision =
  | { action: 'ack' }
  | { action: 'retry'; delayMs: number; reason: string }
  | { action: 'dead-letter'; reason: string }
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
  if (policy.exhausted(attempt)) {
    return { action: 'dead-letter', reason: `gave up after ${attempt} attempts: ${reason}` };
  }
  return { action: 'retry', delayMs: policy.delayMs(attempt), reason };
}

/** An error as log lines and dead letters show it: `Name: message`. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
