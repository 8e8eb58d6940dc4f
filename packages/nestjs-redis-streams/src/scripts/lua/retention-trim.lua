--[[
  One step of retention on one stream: trims entries older than the age limit, then up to `step`
  of the oldest entries past the count cap, never an entry at or after `bound` (the lowest id that
  some consumer group still needs). The cap is found by reading only the surplus at the head,
  never the entries kept, and in one script so that instances trimming together cannot trim
  twice.
  Safe to run twice: a second run trims only what is still past the limits.

  KEYS[1] the stream

  ARGV[1] MINID of the age limit, already at or below `bound` ('' for no age limit)
  ARGV[2] the count cap (0 for none)
  ARGV[3] bound: the lowest id some group still needs ('' when no group needs anything)
  ARGV[4] step: how many entries past the cap to trim at most

  Reply: {trimmed, length after, oldest id after ('' when empty), 1 if more is past the cap}.
]]
local trimmed = 0
if ARGV[1] ~= '' then
  trimmed = redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])
end
local length = redis.call('XLEN', KEYS[1])
local cap = tonumber(ARGV[2])
local more = 0
if cap > 0 and length > cap then
  local step = math.min(length - cap, tonumber(ARGV[4]))
  local take = step
  if ARGV[3] ~= '' then
    take = #redis.call('XRANGE', KEYS[1], '-', '(' .. ARGV[3], 'COUNT', step)
  end
  if take > 0 then
    -- The head holds exactly the oldest entries, all before the bound: an exact MAXLEN drops them.
    local n = redis.call('XTRIM', KEYS[1], 'MAXLEN', length - take)
    trimmed = trimmed + n
    length = length - n
    if take == step and length > cap then more = 1 end
  end
end
local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
local oldest = ''
if #head > 0 then oldest = head[1][1] end
return {trimmed, length, oldest, more}
