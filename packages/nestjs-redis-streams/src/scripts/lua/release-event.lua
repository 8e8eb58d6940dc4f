--[[
  Gives up the right to run taken with claim-event.lua after a failed attempt, if still held.
  Safe to run twice because a second run finds the marker gone, done or another entry's, and
  leaves it. One exception: the marker names the entry, not its delivery, so if another delivery
  of the same entry took it in between, a late second run frees it early; at worst another entry
  with the same eventId then runs alongside, which at-least-once delivery allows.

  KEYS[1] the event's marker

  ARGV[1] `running:<entry id>`

  Reply: 1 when released, else 0.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
