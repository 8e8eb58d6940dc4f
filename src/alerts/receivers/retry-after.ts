import { WEBHOOK_BUSY } from '../alerts.constants.js';

/** `Retry-After` as delay-seconds: whole seconds per RFC 9110, fractions accepted. */
const SECONDS = /^\d+(\.\d+)?$/;

/**
 * How long a receiver that answered 429 or 503 asks us to wait, from its `Retry-After` header:
 * seconds (`120`) or an HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`); undefined when absent or
 * unreadable. Capped, so that a receiver (or a clock far off) cannot stop delivery for hours.
 */
export function retryAfterMs(
  header: string | null | undefined,
  now = Date.now(),
): number | undefined {
  const value = header?.trim() ?? '';
  let delayMs: number;
  if (SECONDS.test(value)) {
    delayMs = Math.round(Number(value) * 1_000);
  } else {
    // Only a value with letters can be a date: Date.parse takes "7" for the year 2001.
    const at = /[a-z]/i.test(value) ? Date.parse(value) : NaN;
    if (Number.isNaN(at)) return undefined;
    delayMs = Math.max(0, at - now);
  }
  return Math.min(delayMs, WEBHOOK_BUSY.maxDelayMs);
}
