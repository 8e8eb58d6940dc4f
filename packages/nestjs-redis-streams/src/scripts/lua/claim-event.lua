--[[
  For idempotent handlers: takes the right to run the handler for one eventId. The marker holds
  `running:<entry id>` while a handler runs (with a lease, so a crash frees it) and, once
  acknowledged, `1` (see ack.lua): it lives a day per event, and Redis stores a small integer in
  no memory of its own. Markers that older versions left (`done:<entry id>`) count as done too. A
  second entry with the same eventId finds it busy or done.
  Safe to run twice because a second run finds its own marker and renews it, giving the same
  answer; if the marker moved on meanwhile (done, or another entry's after it expired), the
  answer says so.

  KEYS[1] the event's marker

  ARGV[1] `running:<entry id>`
  ARGV[2] how long the right to run lasts (ms)

  Reply: 'run', 'done' or 'busy'.
]]
local current = redis.call('GET', KEYS[1])
if not current or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 'run'
end
if string.sub(current, 1, 8) == 'running:' then return 'busy' end
return 'done'
