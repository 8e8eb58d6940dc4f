--[[
  The destination said it is busy: no call starts for ARGV[1] ms (at most ARGV[2]). Then the
  group resumes at a rate (see flow-take.lua): one call a second after a first busy signal,
  doubling; half the rate it had reached after a later one. The calls already under way when the
  signal came answer busy too: one halving per spell (a second, or the delay if longer).
  Safe to run twice because it only moves `busyUntil` later, and halves at most once per spell.

  KEYS[1] the group's flow hash

  ARGV[1] the delay the destination asked for (ms)
  ARGV[2] the longest delay taken (ms)

  Reply: busyUntil (server time, ms).
]]
--- @include "server-time"
local now = serverTime()
local delay = math.min(tonumber(ARGV[1]), tonumber(ARGV[2]))
local untilAt = now + delay
local current = tonumber(redis.call('HGET', KEYS[1], 'busyUntil') or '0')
if current < untilAt then
  redis.call('HSET', KEYS[1], 'busyUntil', untilAt)
  current = untilAt
end
local cutAt = tonumber(redis.call('HGET', KEYS[1], 'rateCutAt') or '0')
if now - cutAt >= math.max(delay, 1000) then
  local rate = tonumber(redis.call('HGET', KEYS[1], 'rate') or '0')
  local threshold = 0
  if rate > 0 then
    rate = math.max(1, rate / 2)
    threshold = rate
  else
    rate = 1
  end
  redis.call('HSET', KEYS[1], 'rate', tostring(rate), 'rateThreshold', tostring(threshold),
    'rateCutAt', now, 'rateAt', current, 'rateTokens', 1, 'rateTokensAt', current)
end
return current
