--[[
  Creates the consumer group at a start id (and the stream if need be), unless it exists. A group
  created anew has no pending entries, so the retry bookkeeping a deleted one left is removed
  first, in the same step (emptied, not deleted: the ACL may allow DEL on no such key).
  Safe to run twice because a second run finds the group and changes nothing.

  KEYS[1] the stream
  KEYS[2] the group's retries (sorted set)
  KEYS[3] the group's attempts (hash)

  ARGV[1] the group
  ARGV[2] the id to create it at ('$', '0' or an entry id)

  Reply: {1 if created else 0, the group's last-delivered-id}.
]]
--- @include "field-map"
local function position()
  local groups = redis.pcall('XINFO', 'GROUPS', KEYS[1])
  if groups.err then return nil end
  for _, info in ipairs(groups) do
    local fields = fieldMap(info)
    if fields['name'] == ARGV[1] then return fields['last-delivered-id'] end
  end
  return nil
end
local found = position()
if found then return {0, found} end
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1)
local cursor = '0'
repeat
  local scan = redis.call('HSCAN', KEYS[3], cursor, 'COUNT', 500)
  cursor = scan[1]
  local names = {}
  for i = 1, #scan[2], 2 do names[#names + 1] = scan[2][i] end
  if #names > 0 then redis.call('HDEL', KEYS[3], unpack(names)) end
until cursor == '0'
redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], ARGV[2], 'MKSTREAM')
return {1, position()}
