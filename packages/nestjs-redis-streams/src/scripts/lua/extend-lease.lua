--[[
  Keeps entries that handlers are still working on from looking idle, so no other consumer
  claims live work. Only entries this consumer still owns are touched.
  Safe to run twice because it only resets the idle time of entries the caller owns (JUSTID
  keeps the delivery count): a second run resets it again.

  KEYS[1] the stream

  ARGV[1] the group
  ARGV[2] the consumer
  ARGV[3...] the ids of the entries its handlers work on

  Reply: how many were extended.
]]
--- @include "pending-row"
local extended = 0
for i = 3, #ARGV do
  local row = pendingRow(ARGV[i])
  if row and row[2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    extended = extended + 1
  end
end
return extended
