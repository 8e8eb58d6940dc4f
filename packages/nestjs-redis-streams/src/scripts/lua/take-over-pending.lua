--[[
  For the owner of an ordered partition: claims the oldest pending entries of the group, whoever
  had them, so that they are handled again, in order, before anything new. XCLAIM drops ids
  deleted from the stream from the pending list; when a whole page was deleted, the next page is
  looked at (a few per call, so one call stays short), so an empty claim never hides entries that
  are still pending.
  Run twice, a second run claims the same oldest entries again, for the same owner; only their
  delivery counts are one higher.

  KEYS[1] the partition's stream
  KEYS[2] its lease

  ARGV[1] the group
  ARGV[2] the consumer
  ARGV[3] the holder, "consumer|token"
  ARGV[4] how many entries to claim at most

  Reply: {entries, delivery counts before this claim, ids dropped as deleted, 1 when nothing is
  pending any more else 0}, or -1 when the lease is no longer the caller's.
]]
--- @include "lease-held"
--- @include "claim-loop"
if not holdsLease(KEYS[2], ARGV[3]) then return -1 end
local gone = {}
for page = 1, 10 do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', ARGV[4])
  if #pending == 0 then return {{}, {}, gone, 1} end
  local ids, deliveries = {}, {}
  for i, p in ipairs(pending) do
    ids[i] = p[1]
    deliveries[p[1]] = p[4]
  end
  local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ids))
  local counts = {}
  local dropped = claimLoop(ids, claimed, function(i, id) counts[i] = deliveries[id] end)
  for _, id in ipairs(dropped) do gone[#gone + 1] = id end
  if #claimed > 0 then return {claimed, counts, gone, 0} end
end
return {{}, {}, gone, 0}
