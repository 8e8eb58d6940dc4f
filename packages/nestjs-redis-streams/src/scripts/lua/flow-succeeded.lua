--[[
  A call succeeded: the streak ends, and an open circuit closes.
  Safe to run twice because the second run finds nothing to remove.

  KEYS[1] the group's flow hash

  ARGV: none

  Reply: 1 when a circuit was closed, else 0.
]]
local wasOpen = redis.call('HGET', KEYS[1], 'openUntil')
redis.call('HDEL', KEYS[1], 'streak', 'lastFailed', 'openUntil', 'probeMs', 'probe', 'probeUntil')
if wasOpen then return 1 end
return 0
