import { StreamScript } from './stream-script.js';

/*
 * The scripts of ordered partitions: a partition's lease with its fencing token, and the
 * settlement and take-over of its entries, each done only while the caller holds the lease.
 */

/**
 * Takes or keeps the lease of a partition for ordered processing. A new lease gets the next
 * fencing token, which only ever grows: whatever a former owner still tries is refused by the
 * scripts below, and downstream systems can refuse it by comparing tokens.
 * KEYS: lease, fencing counter. ARGV: consumer, lease ms.
 * Returns the token, or 0 when another consumer holds the lease.
 */
export const ACQUIRE_LEASE = new StreamScript(
  'acquire-lease',
  `
local current = redis.call('GET', KEYS[1])
if current then
  local owner, token = string.match(current, '^(.*)|(%d+)$')
  if owner ~= ARGV[1] then return 0 end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(token)
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token
`,
);

/**
 * Extends (ARGV[2] > 0) or gives up (ARGV[2] = 0) a lease, only while it is still the caller's.
 * KEYS: lease. ARGV: "consumer|token", lease ms. Returns 1 if it was the caller's, else 0.
 */
export const RENEW_LEASE = new StreamScript(
  'renew-lease',
  `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) else redis.call('DEL', KEYS[1]) end
return 1
`,
);

/**
 * Acknowledges an entry of an ordered partition, only while the caller holds its lease; for
 * idempotent handlers it also records, in the same step, that the event was handled (see ACK).
 * KEYS: stream, lease, [done key]. ARGV: group, id, "consumer|token", [window ms]. Returns XACK's
 * count, or -1 when the lease is no longer the caller's (nothing was done). Safe to run twice.
 */
export const FENCED_ACK = new StreamScript(
  'fenced-ack',
  `
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return -1 end
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if KEYS[3] then redis.call('SET', KEYS[3], 'done:' .. ARGV[2], 'PX', ARGV[4]) end
return acked
`,
);

/**
 * Dead-letters an entry of an ordered partition, only while the caller holds its lease.
 * KEYS: stream, dead-letter stream, lease. ARGV: group, id, "consumer|token", field, value, ...
 * Returns the dead-letter entry id, false if the entry was no longer pending, or -1 when the
 * lease is no longer the caller's.
 */
export const FENCED_DEAD_LETTER = new StreamScript(
  'fenced-dead-letter',
  `
if redis.call('GET', KEYS[3]) ~= ARGV[3] then return -1 end
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return false end
local args = {'XADD', KEYS[2], '*'}
for i = 4, #ARGV do args[#args + 1] = ARGV[i] end
return redis.call(unpack(args))
`,
);

/**
 * For the owner of an ordered partition: claims the oldest pending entries of the group, whoever
 * had them, so that they are handled again, in order, before anything new. XCLAIM drops ids
 * deleted from the stream from the pending list; when a whole page was deleted, the next page is
 * looked at (a few per call, so one call stays short), so an empty claim never hides entries that
 * are still pending.
 * KEYS: stream, lease. ARGV: group, consumer, "consumer|token", count.
 * Returns {entries, delivery counts before this claim, ids dropped as deleted, 1 when nothing
 * is pending any more else 0}, or -1 when the lease is no longer the caller's.
 */
export const TAKE_OVER_PENDING = new StreamScript(
  'take-over-pending',
  `
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return -1 end
local gone = {}
for page = 1, 10 do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', ARGV[4])
  if #pending == 0 then return {{}, {}, gone, 1} end
  local ids, deliveries = {}, {}
  for i, p in ipairs(pending) do
    ids[i] = p[1]
    deliveries[p[1]] = p[4]
  end
  local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ids))
  local seen, counts = {}, {}
  for i, entry in ipairs(claimed) do
    seen[entry[1]] = true
    counts[i] = deliveries[entry[1]]
  end
  for _, id in ipairs(ids) do
    if not seen[id] then gone[#gone + 1] = id end
  end
  if #claimed > 0 then return {claimed, counts, gone, 0} end
end
return {{}, {}, gone, 0}
`,
);
