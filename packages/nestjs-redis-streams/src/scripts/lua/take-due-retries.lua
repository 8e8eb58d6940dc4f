--[[
  Takes retries that are due and claims their entries for this consumer.
  Safe to run twice because of the claim key (see includes/claim-record.lua); without a recorded
  claim, ids taken by a first run are no longer in the retries set.

  KEYS[1] the stream
  KEYS[2] the group's retries (sorted set)
  KEYS[3] the group's attempts (hash)
  KEYS[4] the claim key of this call

  ARGV[1] the group
  ARGV[2] the consumer
  ARGV[3] now (ms): retries due at or before it are taken
  ARGV[4] how many to take at most
  ARGV[5] how long the claim key lives (ms)

  Reply: {entries, attempts spent per entry, ids that are gone, delivery count per entry}.
]]
--- @include "claim-record"
--- @include "claim-loop"
--- @include "forget-attempts"
local recalled = recallClaim()
if recalled then return {recalled.entries, recalled.attempts, {}, recalled.deliveries} end
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[3], 'LIMIT', 0, ARGV[4])
if #ids == 0 then return {{}, {}, {}, {}} end
-- The claim first: when the group is gone it fails before anything is written.
local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ids))
redis.call('ZREM', KEYS[2], unpack(ids))
local attempts, deliveries = {}, {}
local gone = claimLoop(ids, claimed, function(i, id)
  attempts[i] = tonumber(redis.call('HGET', KEYS[3], id) or '0')
  deliveries[i] = pendingRow(id)[4]
end)
forgetAttempts(gone)
recordClaim('0', claimed, deliveries, ARGV[5])
return {claimed, attempts, gone, deliveries}
