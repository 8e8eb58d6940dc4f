--[[
  claimLoop(ids, claimed, each): goes through what XCLAIM returned (`claimed`) for `ids`, calling
  each(i, id) for the i-th entry claimed, and returns the ids it did not return: deleted from the
  stream (trimmed), so XCLAIM dropped them from the pending list.
]]
local function claimLoop(ids, claimed, each)
  local seen = {}
  for i, entry in ipairs(claimed) do
    seen[entry[1]] = true
    each(i, entry[1])
  end
  local gone = {}
  for _, id in ipairs(ids) do
    if not seen[id] then gone[#gone + 1] = id end
  end
  return gone
end
