--[[
  Takes back this consumer's own pending entries that it does not hold in memory (ARGV from 6 on)
  and that wait for no scheduled retry: after a restart under the same name, or after a reply
  that never came (a read, reclaim or retry take that claimed entries in Redis). An entry last
  delivered before ARGV[3] (Redis time in ms, taken when this run of the consumer began) was a
  previous run's, which may have started it: that delivery counts as a spent attempt. One
  delivered since was claimed by this run and never reached a handler: it keeps the attempts it
  had.
  Safe to run twice: the first run's claims are deliveries since ARGV[3], which the second does
  not count.
  Entries deleted from the stream are dropped from the pending list by XCLAIM and reported as
  gone.

  KEYS[1] the stream
  KEYS[2] the group's retries (sorted set)
  KEYS[3] the group's attempts (hash)

  ARGV[1] the group
  ARGV[2] the consumer
  ARGV[3] when this run of the consumer began (server time, ms; see server-time.lua)
  ARGV[4] the pending id to start the scan at
  ARGV[5] how many pending entries to look at
  ARGV[6...] the ids of the entries the consumer holds

  Reply: {next start id or '0' when the scan is complete, entries, attempts spent, gone ids,
  delivery count per entry}.
]]
--- @include "claim-loop"
--- @include "forget-attempts"
--- @include "pending-page"
--- @include "server-time"
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[4], '+', ARGV[5], ARGV[2])
local nextStart = nextPage(pending, ARGV[5])
local held = {}
for i = 6, #ARGV do held[ARGV[i]] = true end
local now = serverTime()
local began = tonumber(ARGV[3])
local ids, rows = unscheduled(pending, held)
if #ids == 0 then return {nextStart, {}, {}, {}, {}} end
local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ids))
local attempts, deliveries = {}, {}
local gone = claimLoop(ids, claimed, function(i, id)
  local row = rows[id]
  -- XCLAIM raised the delivery count by one.
  deliveries[i] = row[4] + 1
  -- Last delivered before this run began: a previous run's delivery, which may have started it.
  if now - row[3] < began then
    attempts[i] = redis.call('HINCRBY', KEYS[3], id, 1)
  else
    attempts[i] = tonumber(redis.call('HGET', KEYS[3], id) or '0')
  end
end)
forgetAttempts(gone)
return {nextStart, claimed, attempts, gone, deliveries}
