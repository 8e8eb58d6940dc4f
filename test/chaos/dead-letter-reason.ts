import { isInfrastructureError } from '@redis-streams-alerts/nestjs-redis-streams';

/** Redis replies that mean "not now", wherever they appear in a reason (scripts prefix them with their line). */
const UNAVAILABLE_ANYWHERE =
  /(^|[\s:(])(OOM command not allowed|LOADING|BUSY Redis|READONLY|NOSCRIPT|CLUSTERDOWN|MASTERDOWN|TRYAGAIN|MISCONF|NOREPLICAS)\b/;

/**
 * Whether a dead letter's reason (`dlq-error`) is an infrastructure failure: Redis unavailable,
 * full or slow, not the message or the receiver. Such a letter breaks the promise: the alert was
 * dead-lettered for the system's own fault. The library's own classifier decides, applied to the
 * reason and to its last cause (after "gave up after N attempts: " and an error name), plus the
 * Redis replies it knows wherever they appear. A receiver's own failures ("webhook did not answer:
 * fetch failed (ECONNREFUSED)", "webhook answered 500") are not infrastructure.
 */
export function isInfrastructureReason(reason: string): boolean {
  const cause = reason
    .replace(/^gave up after \d+ attempts: /, '')
    .replace(/^[A-Za-z]*Error: /, '')
    .replace(/^[a-zA-Z ]+ failed: /, '');
  return (
    isInfrastructureError(new Error(reason)) ||
    isInfrastructureError(new Error(cause)) ||
    UNAVAILABLE_ANYWHERE.test(reason) ||
    /\bInfrastructureError\b/.test(reason)
  );
}
