--[[
  serverTime(): the time of the server that runs the script, in ms. On Cluster that is the node
  holding the keys, so times compared with it (idle times, flow state) share one clock.
]]
local function serverTime()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
