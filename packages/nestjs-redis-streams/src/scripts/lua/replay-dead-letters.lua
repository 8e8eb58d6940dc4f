--[[
  Moves dead letters back to their stream: each is appended again without its `dlq-*` fields and
  removed from the dead-letter stream in the same step, so replaying an entry twice (a double
  click, two operators) appends it once.
  Safe to run twice for the same reason: a second run finds the dead letters deleted by the first
  and appends nothing (it answers nil for them, as for ids that never existed).

  KEYS[1] the dead-letter stream
  KEYS[2] the stream

  ARGV[1...] the ids of the dead letters to replay

  Reply: the new entry id per dead letter, or nil where it no longer exists.
]]
local out = {}
for i, id in ipairs(ARGV) do
  local found = redis.call('XRANGE', KEYS[1], id, id)
  if #found == 0 then
    out[i] = false
  else
    local fields = found[1][2]
    local args = {'XADD', KEYS[2], '*'}
    for j = 1, #fields, 2 do
      if string.sub(fields[j], 1, 4) ~= 'dlq-' then
        args[#args + 1] = fields[j]
        args[#args + 1] = fields[j + 1]
      end
    end
    out[i] = redis.call(unpack(args))
    redis.call('XDEL', KEYS[1], id)
  end
end
return out
