import { PENDING_ROW, StreamScript } from './stream-script.js';

/*
 * The scripts that hand a consumer work older than what it reads: retries that are due, entries
 * idle too long under another consumer (reclaim), and its own pending entries it does not hold
 * (RECOVER_OWN, with SERVER_TIME). Which delivery is current: see Ownership in
 * group-settlement.scripts.ts.
 *
 * RECLAIM and TAKE_DUE_RETRIES hand entries to the caller. A run whose reply is lost would leave
 * them owned by a caller that never starts them, until they are reclaimed with one more attempt
 * counted. So each call names a claim key of its own (unique per call, in KEYS for Cluster): a run
 * that claims something records there what it handed out, for claimMinIdleMs, and a second run of
 * the same call hands out the same entries again, as far as they are still that delivery, instead
 * of claiming (and counting) anything else.
 */

/**
 * The ids a claim asked for and XCLAIM did not return: deleted from the stream (XCLAIM drops them
 * from the pending list), so their attempts field (KEYS[3]) goes too.
 */
const FORGET_GONE = `
local function forgetGone(ids, seen)
  local gone = {}
  for _, id in ipairs(ids) do
    if not seen[id] then
      redis.call('HDEL', KEYS[3], id)
      gone[#gone + 1] = id
    end
  end
  return gone
end
`;

/**
 * Hands out again what an earlier run of the same call claimed, if it recorded a claim in the claim
 * key (KEYS[4]): {next, entries, attempts, deliveries}, or nil when there is no record.
 */
const RECALL_CLAIM = `
local function recallClaim()
  local record = redis.call('GET', KEYS[4])
  if not record then return nil end
  local parts = {}
  for part in string.gmatch(record, '%S+') do parts[#parts + 1] = part end
  local entries, attempts, deliveries = {}, {}, {}
  for i = 2, #parts, 2 do
    local id, count = parts[i], tonumber(parts[i + 1])
    local row = pendingRow(id)
    if row and row[2] == ARGV[2] and row[4] == count then
      -- RETRYCOUNT keeps the delivery count: this is the same delivery, handed out again.
      local entry = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'RETRYCOUNT', count)[1]
      if entry then
        entries[#entries + 1] = entry
        attempts[#entries] = tonumber(redis.call('HGET', KEYS[3], id) or '0')
        deliveries[#entries] = count
      end
    end
  end
  return {next = parts[1], entries = entries, attempts = attempts, deliveries = deliveries}
end
`;

/**
 * Takes retries that are due and claims their entries for this consumer.
 * Safe to run twice because of the claim key (see above); without a recorded claim, ids taken by
 * a first run are no longer in the retries set.
 * KEYS: stream, retries, attempts, claim key. ARGV: group, consumer, now ms, count, claim key ms.
 * Returns {entries, attempts spent per entry, ids that are gone, delivery count per entry}.
 */
export const TAKE_DUE_RETRIES = new StreamScript(
  'take-due-retries',
  `${PENDING_ROW}${RECALL_CLAIM}${FORGET_GONE}
local recalled = recallClaim()
if recalled then return {recalled.entries, recalled.attempts, {}, recalled.deliveries} end
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[3], 'LIMIT', 0, ARGV[4])
if #ids == 0 then return {{}, {}, {}, {}} end
-- The claim first: when the group is gone it fails before anything is written.
local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ids))
redis.call('ZREM', KEYS[2], unpack(ids))
local seen, attempts, deliveries, gone = {}, {}, {}, {}
local claim = {'0'}
for i, entry in ipairs(claimed) do
  local id = entry[1]
  seen[id] = true
  attempts[i] = tonumber(redis.call('HGET', KEYS[3], id) or '0')
  deliveries[i] = pendingRow(id)[4]
  claim[#claim + 1] = id
  claim[#claim + 1] = deliveries[i]
end
gone = forgetGone(ids, seen)
if #claimed > 0 then redis.call('SET', KEYS[4], table.concat(claim, ' '), 'PX', ARGV[5]) end
return {claimed, attempts, gone, deliveries}
`,
);

/**
 * Claims pending entries idle for at least ARGV[3] ms (optionally only those of one consumer) that
 * are not waiting for a scheduled retry, and counts the abandoned delivery as a spent attempt.
 * Entries deleted from the stream (trimmed) are dropped from the pending list by XCLAIM and
 * reported as gone, their bookkeeping removed.
 * Safe to run twice because of the claim key (see above): a second run hands out the entries of
 * the first again and counts nothing more.
 * KEYS: stream, retries, attempts, claim key.
 * ARGV: group, consumer, min idle ms, start id, count, claim key ms, [owner].
 * Returns {next start id or '0' when the scan is complete, entries, attempts spent, gone ids,
 * delivery count per entry}.
 */
export const RECLAIM = new StreamScript(
  'reclaim',
  `${PENDING_ROW}${RECALL_CLAIM}${FORGET_GONE}
local recalled = recallClaim()
if recalled then
  return {recalled.next, recalled.entries, recalled.attempts, {}, recalled.deliveries}
end
local pending
if ARGV[7] then
  pending = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], ARGV[4], '+', ARGV[5], ARGV[7])
else
  pending = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], ARGV[4], '+', ARGV[5])
end
local nextStart = '0'
if #pending == tonumber(ARGV[5]) then nextStart = '(' .. pending[#pending][1] end
local ids, counts = {}, {}
for _, p in ipairs(pending) do
  if not redis.call('ZSCORE', KEYS[2], p[1]) then
    ids[#ids + 1] = p[1]
    -- XCLAIM raises the delivery count by one.
    counts[p[1]] = p[4] + 1
  end
end
if #ids == 0 then return {nextStart, {}, {}, {}, {}} end
local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], unpack(ids))
local seen, attempts, deliveries, gone = {}, {}, {}, {}
local claim = {nextStart}
for i, entry in ipairs(claimed) do
  local id = entry[1]
  seen[id] = true
  attempts[i] = redis.call('HINCRBY', KEYS[3], id, 1)
  deliveries[i] = counts[id]
  claim[#claim + 1] = id
  claim[#claim + 1] = counts[id]
end
gone = forgetGone(ids, seen)
if #claimed > 0 then redis.call('SET', KEYS[4], table.concat(claim, ' '), 'PX', ARGV[6]) end
return {nextStart, claimed, attempts, gone, deliveries}
`,
);

/**
 * Takes back this consumer's own pending entries that it does not hold in memory (ARGV from 6 on)
 * and that wait for no scheduled retry: after a restart under the same name, or after a reply that
 * never came (a read, reclaim or retry take that claimed entries in Redis). An entry last delivered
 * before ARGV[3] (Redis time in ms, taken when this run of the consumer began) was a previous
 * run's, which may have started it: that delivery counts as a spent attempt. One delivered since
 * was claimed by this run and never reached a handler: it keeps the attempts it had. Safe to run
 * twice: the first run's claims are deliveries since ARGV[3], which the second does not count.
 * Entries deleted from the stream are dropped from the pending list by XCLAIM and reported as gone.
 * KEYS: stream, retries, attempts. ARGV: group, consumer, run began ms, start id, count, id, ...
 * Returns {next start id or '0' when the scan is complete, entries, attempts spent, gone ids,
 * delivery count per entry}.
 */
export const RECOVER_OWN = new StreamScript(
  'recover-own',
  `${FORGET_GONE}
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[4], '+', ARGV[5], ARGV[2])
local nextStart = '0'
if #pending == tonumber(ARGV[5]) then nextStart = '(' .. pending[#pending][1] end
local held = {}
for i = 6, #ARGV do held[ARGV[i]] = true end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local began = tonumber(ARGV[3])
local ids, previousRun, counts = {}, {}, {}
for _, p in ipairs(pending) do
  if not held[p[1]] and not redis.call('ZSCORE', KEYS[2], p[1]) then
    ids[#ids + 1] = p[1]
    previousRun[p[1]] = now - p[3] < began
    -- XCLAIM raises the delivery count by one.
    counts[p[1]] = p[4] + 1
  end
end
if #ids == 0 then return {nextStart, {}, {}, {}, {}} end
local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ids))
local seen, attempts, gone, deliveries = {}, {}, {}, {}
for i, entry in ipairs(claimed) do
  seen[entry[1]] = true
  deliveries[i] = counts[entry[1]]
  if previousRun[entry[1]] then
    attempts[i] = redis.call('HINCRBY', KEYS[3], entry[1], 1)
  else
    attempts[i] = tonumber(redis.call('HGET', KEYS[3], entry[1]) or '0')
  end
end
gone = forgetGone(ids, seen)
return {nextStart, claimed, attempts, gone, deliveries}
`,
);

/**
 * The time (ms) of the server that holds a stream, for comparisons with its pending entries' idle
 * times (RECOVER_OWN): on Cluster the script runs on the stream's node, whose clock they use.
 * KEYS: stream. Returns the server's time in ms. Reads nothing, writes nothing.
 */
export const SERVER_TIME = new StreamScript(
  'server-time',
  `
local time = redis.call('TIME')
return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`,
);
