--[[
  Takes the probe of an open circuit whose wait is over, unless another consumer holds it.
  Safe to run twice because the holder taking it again just renews it.

  KEYS[1] the group's flow hash

  ARGV[1] the consumer
  ARGV[2] how long it holds the probe (ms)

  Reply: 1 when the caller holds the probe, else 0.
]]
--- @include "server-time"
local now = serverTime()
local key = KEYS[1]
local openUntil = tonumber(redis.call('HGET', key, 'openUntil') or '0')
if openUntil == 0 or openUntil > now then return 0 end
local holder = redis.call('HGET', key, 'probe')
local heldUntil = tonumber(redis.call('HGET', key, 'probeUntil') or '0')
if holder and holder ~= ARGV[1] and heldUntil > now then return 0 end
redis.call('HSET', key, 'probe', ARGV[1], 'probeUntil', now + tonumber(ARGV[2]))
return 1
