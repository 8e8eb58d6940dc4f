--[[
  Whether a delivery is still current (the entry pending under the caller with that delivery
  count), renewing its lease if so: a consumer whose entry waited for Redis asks before it runs
  the handler again, since meanwhile another consumer may have claimed, settled or dead-lettered
  it.
  Safe to run twice because it only reads and resets the idle time of what the caller owns.

  KEYS[1] the stream

  ARGV[1] the group
  ARGV[2] the consumer whose delivery this is
  ARGV[3] its delivery count
  ARGV[4] the entry id

  Reply: 1 when current, else 0.
]]
--- @include "pending-row"
local row = pendingRow(ARGV[4])
if not row or row[2] ~= ARGV[2] or row[4] ~= tonumber(ARGV[3]) then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[4], 'JUSTID')
return 1
