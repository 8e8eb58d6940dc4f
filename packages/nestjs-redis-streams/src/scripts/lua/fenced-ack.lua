--[[
  Acknowledges an entry of an ordered partition, only while the caller holds its lease; for
  idempotent handlers it also records, in the same step, that the event was handled (see
  ack.lua).
  Safe to run twice because XACK of an acknowledged entry changes nothing and the marker is set
  to the same value.

  KEYS[1] the partition's stream
  KEYS[2] its lease
  KEYS[3] (optional) the event's done marker, for idempotent handlers

  ARGV[1] the group
  ARGV[2] the entry id
  ARGV[3] the holder, "consumer|token"
  ARGV[4] (optional) how long the done marker lives (ms), with KEYS[3]

  Reply: XACK's count, or -1 when the lease is no longer the caller's (nothing was done).
]]
--- @include "lease-held"
if not holdsLease(KEYS[2], ARGV[3]) then return -1 end
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if KEYS[3] then redis.call('SET', KEYS[3], 'done:' .. ARGV[2], 'PX', ARGV[4]) end
return acked
