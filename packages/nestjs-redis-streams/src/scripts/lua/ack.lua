--[[
  Acknowledges an entry and forgets its retry bookkeeping; for idempotent handlers it also
  records, in the same step, that the event was handled (the marker becomes `1`, see
  claim-event.lua), so a second delivery of it is skipped.
  Any owner may acknowledge, also one whose delivery is no longer current: its handler succeeded,
  so the event was handled (at least once), and refusing would only cause one more delivery.
  Safe to run twice because every step is idempotent: XACK of an acknowledged entry, ZREM and
  HDEL of missing members change nothing, and the marker is set to the same value.

  KEYS[1] the stream
  KEYS[2] the group's retries (sorted set)
  KEYS[3] the group's attempts (hash)
  KEYS[4] (optional) the event's done marker, for idempotent handlers

  ARGV[1] the group
  ARGV[2] the entry id
  ARGV[3] (optional) how long the done marker lives (ms), with KEYS[4]

  Reply: XACK's count (1, or 0 when the entry was no longer pending).
]]
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
if KEYS[4] then redis.call('SET', KEYS[4], '1', 'PX', ARGV[3]) end
return acked
