--[[
  Takes or keeps the lease of a partition for ordered processing. A new lease gets the next
  fencing token, which only ever grows: whatever a former owner still tries is refused by the
  fenced scripts, and downstream systems can refuse it by comparing tokens.
  Safe to run twice because the holder taking it again only renews it, with the same token.

  KEYS[1] the partition's lease (holds "consumer|token")
  KEYS[2] its fencing counter

  ARGV[1] the consumer
  ARGV[2] how long the lease lasts (ms)

  Reply: the token, or 0 when another consumer holds the lease.
]]
local current = redis.call('GET', KEYS[1])
if current then
  local owner, token = string.match(current, '^(.*)|(%d+)$')
  if owner ~= ARGV[1] then return 0 end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(token)
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token
