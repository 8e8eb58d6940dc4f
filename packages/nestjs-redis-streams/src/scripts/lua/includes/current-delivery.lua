--[[
  isCurrentDelivery(id, retries, attempts): whether the caller's delivery of `id` (owner ARGV[2],
  delivery count ARGV[3]) is the current one.
  One delivery of an entry is named by its owner and its delivery count: XREADGROUP starts the
  count at 1 and every XCLAIM that hands the entry out (reclaim, a due retry) raises it, while
  EXTEND_LEASE's JUSTID does not. So a consumer that wakes up after its entry was handed to
  another, or handed back to it as a new delivery, is not current.
  An entry no longer pending has no current delivery, and its leftover bookkeeping in the
  `retries` set and `attempts` hash is removed.
]]
--- @include "pending-row"
local function isCurrentDelivery(id, retries, attempts)
  local row = pendingRow(id)
  if not row then
    redis.call('ZREM', retries, id)
    redis.call('HDEL', attempts, id)
    return false
  end
  return row[2] == ARGV[2] and row[4] == tonumber(ARGV[3])
end
