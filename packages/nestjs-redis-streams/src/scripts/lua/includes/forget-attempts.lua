--[[
  forgetAttempts(ids): removes the attempts field (KEYS[3]) of entries that are gone from the
  stream, which nothing else would remove.
]]
local function forgetAttempts(ids)
  for _, id in ipairs(ids) do redis.call('HDEL', KEYS[3], id) end
end
