--[[
  Moves an entry to the dead-letter stream and acknowledges it, for the current delivery only.
  When the entry is no longer pending (finished elsewhere) its leftover bookkeeping is removed;
  when another delivery of it is current, nothing is done: that delivery settles it.
  Safe to run twice because the first run acknowledges the entry, so a second finds it no longer
  pending and writes nothing.

  KEYS[1] the stream
  KEYS[2] its dead-letter stream
  KEYS[3] the group's retries (sorted set of entry ids by due time)
  KEYS[4] the group's attempts (hash of entry id to attempts spent)

  ARGV[1] the group
  ARGV[2] the consumer whose delivery this is
  ARGV[3] its delivery count
  ARGV[4] the entry id
  ARGV[5...] field, value, ...: the dead letter's fields

  Reply: the dead-letter entry id, or nil when nothing was written.
]]
--- @include "current-delivery"
local id = ARGV[4]
if not isCurrentDelivery(id, KEYS[3], KEYS[4]) then return false end
-- The append first: it is the write a full Redis refuses, and then nothing is done at all.
local args = {'XADD', KEYS[2], '*'}
for i = 5, #ARGV do args[#args + 1] = ARGV[i] end
local deadLetterId = redis.call(unpack(args))
redis.call('XACK', KEYS[1], ARGV[1], id)
redis.call('ZREM', KEYS[3], id)
redis.call('HDEL', KEYS[4], id)
return deadLetterId
