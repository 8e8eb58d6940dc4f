--[[
  pendingRow(id): the delivery of entry `id` now, its XPENDING row {id, owner, idle ms, delivery
  count}, or nil when the entry is not pending.
  Reads KEYS[1] (the stream) and ARGV[1] (the group).
]]
local function pendingRow(id)
  return redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)[1]
end
