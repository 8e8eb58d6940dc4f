--[[
  A call failed for entry ARGV[1]. A failure of another entry than the last one lengthens the
  streak; at ARGV[2] in a row the circuit opens for ARGV[3] ms. A failed probe (ARGV[5] = '1')
  keeps it open for twice as long as last time, at most ARGV[4] ms.
  Safe to run twice because the same entry does not lengthen the streak again, and a probe is
  given up once (the second run finds no probe held).

  KEYS[1] the group's flow hash

  ARGV[1] the entry id
  ARGV[2] failures in a row that open the circuit
  ARGV[3] the first wait before a probe (ms)
  ARGV[4] the longest wait before a probe (ms)
  ARGV[5] '1' when the failed call was the probe, else '0'

  Reply: {1 when the circuit is open else 0, openUntil (server time, ms; 0 when closed)}.
]]
--- @include "server-time"
local now = serverTime()
local key = KEYS[1]
local openUntil = tonumber(redis.call('HGET', key, 'openUntil') or '0')
if ARGV[5] == '1' and redis.call('HGET', key, 'probe') then
  local wait = math.min(tonumber(redis.call('HGET', key, 'probeMs') or ARGV[3]) * 2, tonumber(ARGV[4]))
  openUntil = now + wait
  redis.call('HSET', key, 'openUntil', openUntil, 'probeMs', wait)
  redis.call('HDEL', key, 'probe', 'probeUntil')
  return {1, openUntil}
end
if openUntil > 0 then return {1, openUntil} end
if redis.call('HGET', key, 'lastFailed') ~= ARGV[1] then
  local streak = redis.call('HINCRBY', key, 'streak', 1)
  redis.call('HSET', key, 'lastFailed', ARGV[1])
  if streak >= tonumber(ARGV[2]) then
    openUntil = now + tonumber(ARGV[3])
    redis.call('HSET', key, 'openUntil', openUntil, 'probeMs', ARGV[3])
    return {1, openUntil}
  end
end
return {0, 0}
