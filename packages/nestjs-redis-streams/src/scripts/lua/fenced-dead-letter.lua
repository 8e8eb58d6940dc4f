--[[
  Dead-letters an entry of an ordered partition, only while the caller holds its lease.
  Safe to run twice because the first run acknowledges the entry, and a second finds it no
  longer pending and appends nothing.

  KEYS[1] the partition's stream
  KEYS[2] its dead-letter stream
  KEYS[3] its lease

  ARGV[1] the group
  ARGV[2] the entry id
  ARGV[3] the holder, "consumer|token"
  ARGV[4...] field, value, ...: the dead letter's fields

  Reply: the dead-letter entry id, false if the entry was no longer pending, or -1 when the
  lease is no longer the caller's.
]]
--- @include "lease-held"
if not holdsLease(KEYS[3], ARGV[3]) then return -1 end
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return false end
local args = {'XADD', KEYS[2], '*'}
for i = 4, #ARGV do args[#args + 1] = ARGV[i] end
return redis.call(unpack(args))
