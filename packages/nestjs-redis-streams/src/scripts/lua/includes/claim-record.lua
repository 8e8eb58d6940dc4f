--[[
  The claim key of a call that hands entries out (RECLAIM, TAKE_DUE_RETRIES). A run whose reply is
  lost would leave its entries owned by a caller that never starts them, until they are reclaimed
  with one more attempt counted. So each call names a claim key of its own (KEYS[4], unique per
  call): a run that claims something records there what it handed out, and a second run of the
  same call hands out the same entries again, as far as they are still that delivery, instead of
  claiming (and counting) anything else.
  The record is one string: the reply's next start id, then id and delivery count per entry.

  recordClaim(nextStart, claimed, deliveries, ms): records what XCLAIM handed out (`claimed`, with
  the delivery count of each) for `ms`; nothing when nothing was claimed.
  recallClaim(): hands out again what an earlier run of the same call recorded, claimed by the
  caller (ARGV[2]) without raising the delivery count: {next, entries, attempts, deliveries},
  attempts read from KEYS[3]; nil when there is no record.
  Reads KEYS[1] (the stream) and ARGV[1] (the group).
]]
--- @include "pending-row"
local function recordClaim(nextStart, claimed, deliveries, ms)
  if #claimed == 0 then return end
  local claim = {nextStart}
  for i, entry in ipairs(claimed) do
    claim[#claim + 1] = entry[1]
    claim[#claim + 1] = deliveries[i]
  end
  redis.call('SET', KEYS[4], table.concat(claim, ' '), 'PX', ms)
end

local function recallClaim()
  local record = redis.call('GET', KEYS[4])
  if not record then return nil end
  local parts = {}
  for part in string.gmatch(record, '%S+') do parts[#parts + 1] = part end
  local entries, attempts, deliveries = {}, {}, {}
  for i = 2, #parts, 2 do
    local id, count = parts[i], tonumber(parts[i + 1])
    local row = pendingRow(id)
    if row and row[2] == ARGV[2] and row[4] == count then
      -- RETRYCOUNT keeps the delivery count: this is the same delivery, handed out again.
      local entry = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'RETRYCOUNT', count)[1]
      if entry then
        entries[#entries + 1] = entry
        attempts[#entries] = tonumber(redis.call('HGET', KEYS[3], id) or '0')
        deliveries[#entries] = count
      end
    end
  end
  return {next = parts[1], entries = entries, attempts = attempts, deliveries = deliveries}
end
