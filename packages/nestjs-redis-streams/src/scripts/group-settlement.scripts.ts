import { PENDING_ROW, StreamScript } from './stream-script.js';

/*
 * The scripts for the delivery a group consumer holds: settling it (ACK, SCHEDULE_RETRY,
 * DEAD_LETTER) and keeping it while its handler runs (STILL_CURRENT, EXTEND_LEASE).
 *
 * Ownership. One delivery of an entry is named by its owner and its delivery count: XREADGROUP
 * starts the count at 1 and every XCLAIM that hands the entry out (reclaim, a due retry) raises it,
 * while EXTEND_LEASE's JUSTID does not. The scripts that settle a failed attempt (DEAD_LETTER,
 * SCHEDULE_RETRY) act only for the current delivery, so a consumer that wakes up after its entry
 * was handed to another, or handed back to it as a new delivery, changes nothing.
 *
 * Bookkeeping. The attempts hash and the retries set have no TTL: every path that finds an entry no
 * longer pending removes its fields there (see also SWEEP_BOOKKEEPING).
 */

/**
 * Whether the caller's delivery of `id` (owner ARGV[2], delivery count ARGV[3]) is the current one.
 * An entry no longer pending has no current delivery, and its leftover bookkeeping in the `retries`
 * set and `attempts` hash is removed.
 */
const CURRENT_DELIVERY = `
local function isCurrentDelivery(id, retries, attempts)
  local row = pendingRow(id)
  if not row then
    redis.call('ZREM', retries, id)
    redis.call('HDEL', attempts, id)
    return false
  end
  return row[2] == ARGV[2] and row[4] == tonumber(ARGV[3])
end
`;

/**
 * Moves an entry to the dead-letter stream and acknowledges it, for the current delivery only.
 * When the entry is no longer pending (finished elsewhere) its leftover bookkeeping is removed;
 * when another delivery of it is current, nothing is done: that delivery settles it.
 * Safe to run twice because the first run acknowledges the entry, so a second finds it no longer
 * pending and writes nothing.
 * KEYS: stream, dead-letter stream, retries, attempts.
 * ARGV: group, consumer, delivery count, id, field, value, ...
 * Returns the dead-letter entry id, or nil when nothing was written.
 */
export const DEAD_LETTER = new StreamScript(
  'dead-letter',
  `${PENDING_ROW}${CURRENT_DELIVERY}
local id = ARGV[4]
if not isCurrentDelivery(id, KEYS[3], KEYS[4]) then return false end
-- The append first: it is the write a full Redis refuses, and then nothing is done at all.
local args = {'XADD', KEYS[2], '*'}
for i = 5, #ARGV do args[#args + 1] = ARGV[i] end
local deadLetterId = redis.call(unpack(args))
redis.call('XACK', KEYS[1], ARGV[1], id)
redis.call('ZREM', KEYS[3], id)
redis.call('HDEL', KEYS[4], id)
return deadLetterId
`,
);

/**
 * Acknowledges an entry and forgets its retry bookkeeping; for idempotent handlers it also records,
 * in the same step, that the event was handled (the marker becomes `1`, see CLAIM_EVENT), so a
 * second delivery of it is skipped.
 * Any owner may acknowledge, also one whose delivery is no longer current: its handler succeeded,
 * so the event was handled (at least once), and refusing would only cause one more delivery.
 * Safe to run twice because every step is idempotent: XACK of an acknowledged entry, ZREM and HDEL
 * of missing members change nothing, and the marker is set to the same value.
 * KEYS: stream, retries, attempts, [done key]. ARGV: group, id, [window ms]. Returns XACK's count.
 */
export const ACK = new StreamScript(
  'ack',
  `
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
if KEYS[4] then redis.call('SET', KEYS[4], '1', 'PX', ARGV[3]) end
return acked
`,
);

/**
 * Schedules a retry, in Redis so it survives a crash: the entry stays pending and its id goes into
 * the retries sorted set, due at the given time, for the current delivery only (as DEAD_LETTER).
 * Safe to run twice because a second run before the retry is taken writes the same values again,
 * and one after it was taken finds a new delivery (the claim raised the count) and does nothing.
 * KEYS: stream, retries, attempts. ARGV: group, consumer, delivery count, id, due time ms,
 * attempts spent.
 * Returns 1 when scheduled, 0 when this delivery is no longer current.
 */
export const SCHEDULE_RETRY = new StreamScript(
  'schedule-retry',
  `${PENDING_ROW}${CURRENT_DELIVERY}
local id = ARGV[4]
if not isCurrentDelivery(id, KEYS[2], KEYS[3]) then return 0 end
-- The count before the schedule: stopped between the two, the entry would be reclaimed with its
-- attempt counted, never retried without it.
redis.call('HSET', KEYS[3], id, ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[5], id)
return 1
`,
);

/**
 * Whether a delivery is still current (the entry pending under the caller with that delivery
 * count), renewing its lease if so: a consumer whose entry waited for Redis asks before it runs the
 * handler again, since meanwhile another consumer may have claimed, settled or dead-lettered it.
 * Safe to run twice because it only reads and resets the idle time of what the caller owns.
 * KEYS: stream. ARGV: group, consumer, delivery count, id. Returns 1 when current, else 0.
 */
export const STILL_CURRENT = new StreamScript(
  'still-current',
  `${PENDING_ROW}
local row = pendingRow(ARGV[4])
if not row or row[2] ~= ARGV[2] or row[4] ~= tonumber(ARGV[3]) then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[4], 'JUSTID')
return 1
`,
);

/**
 * Keeps entries that handlers are still working on from looking idle, so no other consumer claims
 * live work. Only entries this consumer still owns are touched.
 * Safe to run twice because it only resets the idle time of entries the caller owns (JUSTID keeps
 * the delivery count): a second run resets it again.
 * KEYS: stream. ARGV: group, consumer, id, ... Returns how many were extended.
 */
export const EXTEND_LEASE = new StreamScript(
  'extend-lease',
  `
local extended = 0
for i = 3, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #pending > 0 and pending[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    extended = extended + 1
  end
end
return extended
`,
);
