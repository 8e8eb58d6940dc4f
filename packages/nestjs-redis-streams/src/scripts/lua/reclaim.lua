--[[
  Claims pending entries idle for at least ARGV[3] ms (optionally only those of one consumer) that
  are not waiting for a scheduled retry, and counts the abandoned delivery as a spent attempt.
  Entries deleted from the stream (trimmed) are dropped from the pending list by XCLAIM and
  reported as gone, their bookkeeping removed.
  Safe to run twice because of the claim key (see includes/claim-record.lua): a second run hands
  out the entries of the first again and counts nothing more.

  KEYS[1] the stream
  KEYS[2] the group's retries (sorted set)
  KEYS[3] the group's attempts (hash)
  KEYS[4] the claim key of this call

  ARGV[1] the group
  ARGV[2] the consumer that claims
  ARGV[3] how long an entry must have been idle (ms)
  ARGV[4] the pending id to start the scan at
  ARGV[5] how many pending entries to look at
  ARGV[6] how long the claim key lives (ms)
  ARGV[7] (optional) the consumer whose entries alone are claimed

  Reply: {next start id or '0' when the scan is complete, entries, attempts spent, gone ids,
  delivery count per entry}.
]]
--- @include "claim-record"
--- @include "claim-loop"
--- @include "forget-attempts"
--- @include "pending-page"
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
local nextStart = nextPage(pending, ARGV[5])
local ids, rows = unscheduled(pending, {})
if #ids == 0 then return {nextStart, {}, {}, {}, {}} end
local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], unpack(ids))
local attempts, deliveries = {}, {}
local gone = claimLoop(ids, claimed, function(i, id)
  attempts[i] = redis.call('HINCRBY', KEYS[3], id, 1)
  -- XCLAIM raised the delivery count by one.
  deliveries[i] = rows[id][4] + 1
end)
forgetAttempts(gone)
recordClaim(nextStart, claimed, deliveries, ARGV[6])
return {nextStart, claimed, attempts, gone, deliveries}
