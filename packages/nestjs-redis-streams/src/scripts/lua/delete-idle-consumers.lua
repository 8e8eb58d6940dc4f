--[[
  Deletes consumers of a group that have nothing pending and have been idle for at least ARGV[3]
  ms, never the caller. On Redis 7.0 idle counts from the last entry a consumer was given (a read
  that returns nothing does not count), so a live consumer of a quiet stream may go too: harmless,
  as it has nothing pending and the read that next gives it an entry creates it again.
  XINFO CONSUMERS lists every consumer: it runs here, so its reply never leaves Redis, and a run
  deletes at most ARGV[4].
  Safe to run twice because a second run no longer finds the consumers the first deleted.

  KEYS[1] the stream

  ARGV[1] the group
  ARGV[2] the calling consumer, never deleted
  ARGV[3] how long a consumer must have been idle (ms)
  ARGV[4] how many to delete at most

  Reply: the names of the deleted consumers.
]]
--- @include "field-map"
local minIdle, most = tonumber(ARGV[3]), tonumber(ARGV[4])
local deleted = {}
for _, info in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local fields = fieldMap(info)
  if fields['name'] ~= ARGV[2] and fields['pending'] == 0 and fields['idle'] >= minIdle then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], fields['name'])
    deleted[#deleted + 1] = fields['name']
    if #deleted >= most then break end
  end
end
return deleted
