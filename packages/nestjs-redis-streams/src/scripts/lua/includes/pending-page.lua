--[[
  A page of XPENDING rows {id, owner, idle ms, delivery count}, asked for `count` at a time.
  nextPage(pending, count): where the next page starts, or '0' when this page was the last.
  unscheduled(pending, held): the ids of the rows that are not in the set `held` and wait for no
  scheduled retry (in the retries set, KEYS[2]), in order, and the rows by id.
]]
local function nextPage(pending, count)
  if #pending == tonumber(count) then return '(' .. pending[#pending][1] end
  return '0'
end

local function unscheduled(pending, held)
  local ids, rows = {}, {}
  for _, p in ipairs(pending) do
    if not held[p[1]] and not redis.call('ZSCORE', KEYS[2], p[1]) then
      ids[#ids + 1] = p[1]
      rows[p[1]] = p
    end
  end
  return ids, rows
end
