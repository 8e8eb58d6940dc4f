--[[
  holdsLease(lease, holder): whether the partition lease at key `lease` is still `holder`'s
  ("consumer|token"). A lease that expired or passed to another consumer (a new token) is not.
]]
local function holdsLease(lease, holder)
  return redis.call('GET', lease) == holder
end
