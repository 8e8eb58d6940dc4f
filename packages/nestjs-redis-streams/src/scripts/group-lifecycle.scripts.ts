import { StreamScript } from './stream-script.js';

/*
 * The scripts that create a consumer group and tidy it: its consumers that stopped for good, and
 * retry bookkeeping of entries no longer pending.
 */

/**
 * Creates the consumer group at `start` (and the stream if need be), unless it exists. A group
 * created anew has no pending entries, so the retry bookkeeping a deleted one left is removed
 * first, in the same step (emptied, not deleted: the ACL may allow DEL on no such key).
 * Safe to run twice because a second run finds the group and changes nothing.
 * KEYS: stream, retries, attempts. ARGV: group, start id.
 * Returns {1 if created else 0, the group's last-delivered-id}.
 */
export const ENSURE_GROUP = new StreamScript(
  'ensure-group',
  `
local function position()
  local groups = redis.pcall('XINFO', 'GROUPS', KEYS[1])
  if groups.err then return nil end
  for _, info in ipairs(groups) do
    local fields = {}
    for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
    if fields['name'] == ARGV[1] then return fields['last-delivered-id'] end
  end
  return nil
end
local found = position()
if found then return {0, found} end
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1)
local cursor = '0'
repeat
  local scan = redis.call('HSCAN', KEYS[3], cursor, 'COUNT', 500)
  cursor = scan[1]
  local names = {}
  for i = 1, #scan[2], 2 do names[#names + 1] = scan[2][i] end
  if #names > 0 then redis.call('HDEL', KEYS[3], unpack(names)) end
until cursor == '0'
redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], ARGV[2], 'MKSTREAM')
return {1, position()}
`,
);

/**
 * Deletes consumers of a group that have nothing pending and have been idle for at least ARGV[3]
 * ms, never the caller. On Redis 7.0 idle counts from the last entry a consumer was given (a read
 * that returns nothing does not count), so a live consumer of a quiet stream may go too: harmless,
 * as it has nothing pending and the read that next gives it an entry creates it again.
 * XINFO CONSUMERS lists every consumer: it runs here, so its reply never leaves Redis, and at most
 * ARGV[4] are deleted per run.
 * Safe to run twice because a second run no longer finds the consumers the first deleted.
 * KEYS: stream. ARGV: group, caller, min idle ms, most to delete. Returns the deleted names.
 */
export const DELETE_IDLE_CONSUMERS = new StreamScript(
  'delete-idle-consumers',
  `
local minIdle, most = tonumber(ARGV[3]), tonumber(ARGV[4])
local deleted = {}
for _, info in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local fields = {}
  for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
  if fields['name'] ~= ARGV[2] and fields['pending'] == 0 and fields['idle'] >= minIdle then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], fields['name'])
    deleted[#deleted + 1] = fields['name']
    if #deleted >= most then break end
  end
end
return deleted
`,
);

/**
 * One step of a scan of the attempts hash that removes the bookkeeping of entries no longer
 * pending. Every script cleans up after itself; this catches what none of them sees: an entry
 * acknowledged by the hot path's plain XACK while a reclaim had counted an attempt for it, when
 * the consumer that reclaimed it then stops for good.
 * Safe to run twice because a second run finds the fields already removed.
 * KEYS: stream, retries, attempts. ARGV: group, cursor, count.
 * Returns {next cursor ('0' when the scan is complete), fields removed}.
 */
export const SWEEP_BOOKKEEPING = new StreamScript(
  'sweep-bookkeeping',
  `
local scan = redis.call('HSCAN', KEYS[3], ARGV[2], 'COUNT', ARGV[3])
local fields, removed = scan[2], 0
for i = 1, #fields, 2 do
  local id = fields[i]
  if #redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1) == 0 then
    redis.call('HDEL', KEYS[3], id)
    redis.call('ZREM', KEYS[2], id)
    removed = removed + 1
  end
end
return {scan[1], removed}
`,
);
