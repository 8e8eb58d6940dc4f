import { StreamScript } from './stream-script.js';

/*
 * The scripts for idempotent handlers: the per-eventId marker that lets one entry run the
 * handler, and its release after a failed attempt.
 */

/**
 * For idempotent handlers: takes the right to run the handler for one eventId. The marker holds
 * `running:<entry id>` while a handler runs (with a lease, so a crash frees it) and, once
 * acknowledged, `1` (see ACK): it lives a day per event, and Redis stores a small integer in no
 * memory of its own. Markers that older versions left (`done:<entry id>`) count as done too. A
 * second entry with the same eventId finds it busy or done.
 * Safe to run twice because a second run finds its own marker and renews it, giving the same
 * answer; if the marker moved on meanwhile (done, or another entry's after it expired), the answer
 * says so.
 * KEYS: marker. ARGV: `running:<entry id>`, lease ms. Returns 'run', 'done' or 'busy'.
 */
export const CLAIM_EVENT = new StreamScript(
  'claim-event',
  `
local current = redis.call('GET', KEYS[1])
if not current or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 'run'
end
if string.sub(current, 1, 8) == 'running:' then return 'busy' end
return 'done'
`,
);

/**
 * Gives up the right to run taken with CLAIM_EVENT after a failed attempt, if still held.
 * Safe to run twice because a second run finds the marker gone, done or another entry's, and
 * leaves it. One exception: the marker names the entry, not its delivery, so if another delivery
 * of the same entry took it in between, a late second run frees it early; at worst another entry
 * with the same eventId then runs alongside, which at-least-once delivery allows.
 * KEYS: marker. ARGV: `running:<entry id>`. Returns 1 when released.
 */
export const RELEASE_EVENT = new StreamScript(
  'release-event',
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`,
);
