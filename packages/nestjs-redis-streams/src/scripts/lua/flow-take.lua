--[[
  Takes up to ARGV[1] call tokens (a negative count gives unused ones back) from the limits that
  apply now, and returns how many were granted and, when none, the ms until the next:
  - the configured rate limit (ARGV[2] calls per ARGV[3] ms; ARGV[2] = 0: none), a token bucket
    in the flow hash (`limitTokens`, `limitAt`: one key, one slot);
  - the rate the group resumes at after busy signals (`rate` in the flow hash, calls/s; see
    flow-busy.lua): it doubles each second until the rate of the last busy signal's halving
    (`rateThreshold`; 0 before one), then grows by a tenth each second, and is dropped once it is
    past any rate that matters (10,000/s).
  Both buckets hold one token at most: calls are paced evenly, never sent in a burst, so that a
  receiver that limits at the same rate, with its own bucket, finds room for each despite jitter.
  Safe to run twice because a second run only takes more (fewer calls, never more than a limit)
  or gives back up to a bucket's size.

  KEYS[1] the group's flow hash

  ARGV[1] how many tokens to take (negative: to give back)
  ARGV[2] the rate limit's calls (0 for no limit)
  ARGV[3] the rate limit's period (ms)

  Reply: {granted, wait ms}.
]]
--- @include "server-time"
local now = serverTime()
local want = tonumber(ARGV[1])
local granted = want
local wait = 0
local cmax = tonumber(ARGV[2])
local ctokens
if cmax > 0 then
  local per = tonumber(ARGV[3])
  ctokens = tonumber(redis.call('HGET', KEYS[1], 'limitTokens') or '1')
  local at = tonumber(redis.call('HGET', KEYS[1], 'limitAt') or now)
  ctokens = math.min(1, ctokens + math.max(0, now - at) * cmax / per)
  if want > 0 then
    granted = math.min(granted, math.floor(ctokens))
    if ctokens < 1 then wait = math.ceil((1 - ctokens) * per / cmax) end
  end
end
local rate = tonumber(redis.call('HGET', KEYS[1], 'rate') or '0')
local tokens, grownAt
if rate > 0 then
  local threshold = tonumber(redis.call('HGET', KEYS[1], 'rateThreshold') or '0')
  grownAt = tonumber(redis.call('HGET', KEYS[1], 'rateAt') or now)
  local filledAt = tonumber(redis.call('HGET', KEYS[1], 'rateTokensAt') or now)
  tokens = tonumber(redis.call('HGET', KEYS[1], 'rateTokens') or '0')
  if now > filledAt then
    tokens = math.min(1, tokens + (now - filledAt) * rate / 1000)
    filledAt = now
  end
  local steps = 0
  if now > grownAt then steps = math.floor((now - grownAt) / 1000) end
  for _ = 1, math.min(steps, 60) do
    if threshold == 0 or rate < threshold then rate = rate * 2 else rate = rate + math.max(1, rate / 10) end
  end
  grownAt = grownAt + steps * 1000
  if rate >= 10000 then
    redis.call('HDEL', KEYS[1], 'rate', 'rateThreshold', 'rateAt', 'rateTokens', 'rateTokensAt')
    rate = 0
  else
    if want > 0 then
      granted = math.min(granted, math.floor(tokens))
      if tokens < 1 then wait = math.max(wait, math.ceil((1 - tokens) * 1000 / rate)) end
    end
  end
end
if want < 0 then granted = 0 end
local used = granted
if want < 0 then used = want end
if cmax > 0 then
  redis.call('HSET', KEYS[1], 'limitTokens', tostring(math.min(1, ctokens - used)), 'limitAt', now)
end
if rate > 0 then
  redis.call('HSET', KEYS[1], 'rate', tostring(rate), 'rateAt', grownAt,
    'rateTokens', tostring(math.min(1, tokens - used)), 'rateTokensAt', now)
end
if granted > 0 then wait = 0 end
return {granted, wait}
