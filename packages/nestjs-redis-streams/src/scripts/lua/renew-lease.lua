--[[
  Extends (ARGV[2] > 0) or gives up (ARGV[2] = 0) a lease, only while it is still the caller's.
  Safe to run twice because a second run extends it again, or finds it given up.

  KEYS[1] the partition's lease

  ARGV[1] the holder, "consumer|token"
  ARGV[2] how long the lease lasts from now (ms), or 0 to give it up

  Reply: 1 if it was the caller's, else 0.
]]
--- @include "lease-held"
if not holdsLease(KEYS[1], ARGV[1]) then return 0 end
if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) else redis.call('DEL', KEYS[1]) end
return 1
