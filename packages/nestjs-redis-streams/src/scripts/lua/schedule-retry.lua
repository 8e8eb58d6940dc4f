--[[
  Schedules a retry, in Redis so it survives a crash: the entry stays pending and its id goes
  into the retries sorted set, due at the given time, for the current delivery only (as
  dead-letter.lua).
  Safe to run twice because a second run before the retry is taken writes the same values again,
  and one after it was taken finds a new delivery (the claim raised the count) and does nothing.

  KEYS[1] the stream
  KEYS[2] the group's retries (sorted set)
  KEYS[3] the group's attempts (hash)

  ARGV[1] the group
  ARGV[2] the consumer whose delivery this is
  ARGV[3] its delivery count
  ARGV[4] the entry id
  ARGV[5] when the retry is due (ms)
  ARGV[6] attempts spent so far

  Reply: 1 when scheduled, 0 when this delivery is no longer current.
]]
--- @include "current-delivery"
local id = ARGV[4]
if not isCurrentDelivery(id, KEYS[2], KEYS[3]) then return 0 end
-- The count before the schedule: stopped between the two, the entry would be reclaimed with its
-- attempt counted, never retried without it.
redis.call('HSET', KEYS[3], id, ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[5], id)
return 1
