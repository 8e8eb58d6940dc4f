#!lua flags=no-writes
--[[
  The flow state of a consumer group, and the server's time to compare it with (the flow hash's
  fields: see flow.scripts.ts).
  Safe to run twice because it only reads. Flagged no-writes (the line above, which Redis wants
  first), so that it also runs while Redis is full (noeviction refuses scripts that may write).

  KEYS[1] the group's flow hash

  ARGV: none

  Reply: {now, field, value, field, value, ...}.
]]
--- @include "server-time"
local now = serverTime()
local state = redis.call('HGETALL', KEYS[1])
table.insert(state, 1, now)
return state
