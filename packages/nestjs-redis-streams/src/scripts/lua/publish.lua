--[[
  Publishes a batch, with de-duplication by eventId for the events that carry a dedup key: an
  eventId seen within the window (also earlier in the same batch) returns the entry id of its
  first publish instead of appending again. One call appends many events, so a batch costs the
  client one command to build and parse and Redis one command to read, not one per event.
  With a guard key, the call is safe to run twice (a Cluster client resends commands that were in
  flight on a node that failed): it keeps the call's reply for a short while, and a second run of
  the same call answers that instead of appending again.

  KEYS[1] the stream
  KEYS[2...] the guard key and the dedup keys, each used where ARGV names its index

  ARGV[1] the stream's max length ('' for none)
  ARGV[2] the index in KEYS of the guard key (0 for none)
  ARGV[3] how long the guard lives (ms)
  ARGV[4...] for each event: the index in KEYS of its dedup key (0 for none), how long that key
    lives (ms), its number of field/value strings, then field, value, ...

  Reply: a flat list: entry id, 1 if it was a duplicate else 0, for each event in order.
]]
local maxLen, guard = ARGV[1], tonumber(ARGV[2])
local out = {}
if guard > 0 then
  local sent = redis.call('GET', KEYS[guard])
  if sent then
    for word in string.gmatch(sent, '%S+') do out[#out + 1] = word end
    for i = 2, #out, 2 do out[i] = tonumber(out[i]) end
    return out
  end
end
-- One XADD argument table for every event: its head stays, each event's fields overwrite the
-- tail, and unpack takes only this event's part.
local args = {'XADD', KEYS[1]}
if maxLen ~= '' then
  args[3] = 'MAXLEN'
  args[4] = '~'
  args[5] = maxLen
end
args[#args + 1] = '*'
local base = #args
local o = 0
local a = 4
local last = #ARGV
while a <= last do
  local k = tonumber(ARGV[a])
  local n = tonumber(ARGV[a + 2])
  local existing = false
  if k > 0 then existing = redis.call('GET', KEYS[k]) end
  if existing then
    out[o + 1] = existing
    out[o + 2] = 1
  else
    for i = 1, n do args[base + i] = ARGV[a + 2 + i] end
    local id = redis.call(unpack(args, 1, base + n))
    if k > 0 then redis.call('SET', KEYS[k], id, 'PX', ARGV[a + 1]) end
    out[o + 1] = id
    out[o + 2] = 0
  end
  o = o + 2
  a = a + n + 3
end
if guard > 0 then redis.call('SET', KEYS[guard], table.concat(out, ' '), 'PX', ARGV[3]) end
return out
