--[[
  One step of a scan of the attempts hash that removes the bookkeeping of entries no longer
  pending. Every script cleans up after itself; this catches what none of them sees: an entry
  acknowledged by the hot path's plain XACK while a reclaim had counted an attempt for it, when
  the consumer that reclaimed it then stops for good.
  Safe to run twice because a second run finds the fields already removed.

  KEYS[1] the stream
  KEYS[2] the group's retries (sorted set)
  KEYS[3] the group's attempts (hash)

  ARGV[1] the group
  ARGV[2] the scan cursor ('0' to start)
  ARGV[3] how many fields to look at (HSCAN COUNT)

  Reply: {next cursor ('0' when the scan is complete), fields removed}.
]]
--- @include "pending-row"
local scan = redis.call('HSCAN', KEYS[3], ARGV[2], 'COUNT', ARGV[3])
local fields, removed = scan[2], 0
for i = 1, #fields, 2 do
  local id = fields[i]
  if not pendingRow(id) then
    redis.call('HDEL', KEYS[3], id)
    redis.call('ZREM', KEYS[2], id)
    removed = removed + 1
  end
end
return {scan[1], removed}
