/**
 * A Lua script as ioredis `defineCommand` takes it: ioredis runs it with EVALSHA, and with EVAL
 * when Redis does not know it (after a restart or SCRIPT FLUSH).
 */
export interface LuaCommand {
  numberOfKeys: number;
  lua: string;
}

/**
 * Updates one alert record atomically (field names in RECORD_FIELD, states in RECORD_STATE). The
 * recorder, the webhook handler and the dead-letter recorder run in separate consumer groups, so
 * their writes arrive in any order: the entry it points at is set by the first write, attempts only
 * grow, and a final state never goes back to pending. Dead-lettered may still become delivered
 * (the entry was replayed and went through), never the other way round. The change time moves only
 * when something changed. A record written before records were compact (long field names, content
 * inside) keeps its content fields and carries its state over.
 *
 * With a receiver named, the same rules also apply to that receiver's own status, one field
 * `r:<receiver>` = `<state>|<attempts>|<changed at>|<dead-letter id>|<last error>`; the routes
 * (`m`, the receivers that take the alert, comma-separated, empty for none) are set as given.
 *
 * KEYS: record hash.
 * ARGV: ttl ms, now ms, stream ('' for the alerts stream), entry id,
 *       new state ('' | 'w' | 'l' | 'x'), attempts ('' to keep), last error ('' to keep),
 *       dead-letter entry id ('' for none), receiver ('' for none),
 *       routes ('' to keep, else '=' followed by the names).
 * Returns the state after the update.
 */
export const UPSERT_RECORD: LuaCommand = {
  numberOfKeys: 1,
  lua: `
local key, target = KEYS[1], ARGV[5]
local changed = false
if redis.call('HSETNX', key, 'i', ARGV[4]) == 1 then
  if ARGV[3] ~= '' then redis.call('HSET', key, 'q', ARGV[3]) end
  changed = true
end
local state = redis.call('HGET', key, 's')
if not state then
  local legacy = redis.call('HGET', key, 'status')
  state = 'p'
  if legacy == 'delivered' then
    state = 'w'
    if redis.call('HGET', key, 'deliveredVia') == 'log' then state = 'l' end
  elseif legacy == 'dead-lettered' then
    state = 'x'
  end
  redis.call('HSET', key, 's', state, 'a', redis.call('HGET', key, 'attempts') or '0')
  changed = true
end

local delivered = state == 'w' or state == 'l'
if (target == 'w' or target == 'l') and not delivered then
  state = target
  redis.call('HSET', key, 's', state)
  changed = true
elseif target == 'x' and not delivered then
  state = 'x'
  redis.call('HSET', key, 's', state)
  if ARGV[8] ~= '' then redis.call('HSET', key, 'x', ARGV[8]) end
  changed = true
end

if ARGV[6] ~= '' and tonumber(ARGV[6]) > tonumber(redis.call('HGET', key, 'a') or '0') then
  redis.call('HSET', key, 'a', ARGV[6])
  changed = true
end
if ARGV[7] ~= '' and not delivered and redis.call('HGET', key, 'e') ~= ARGV[7] then
  redis.call('HSET', key, 'e', ARGV[7])
  changed = true
end

local receiver = ARGV[9]
if receiver ~= '' then
  local field = 'r:' .. receiver
  local raw = redis.call('HGET', key, field)
  local s, a, t, x, e = 'p', 0, ARGV[2], '', ''
  if raw then
    local rs, ra, rt, rx, re = string.match(raw, '^(%a)|(%d+)|(%d*)|([^|]*)|(.*)$')
    if rs then s, a, t, x, e = rs, tonumber(ra), rt, rx, re end
  end
  local was = s
  local done = s == 'w' or s == 'l'
  if (target == 'w' or target == 'l') and not done then
    s = target
  elseif target == 'x' and not done then
    s = 'x'
    if ARGV[8] ~= '' then x = ARGV[8] end
  end
  if ARGV[6] ~= '' and tonumber(ARGV[6]) > a then a = tonumber(ARGV[6]) end
  if ARGV[7] ~= '' and not done then e = ARGV[7] end
  if s ~= was then t = ARGV[2] end
  local value = s .. '|' .. string.format('%d', a) .. '|' .. t .. '|' .. x .. '|' .. e
  if value ~= raw then
    redis.call('HSET', key, field, value)
    changed = true
  end
end
if ARGV[10] ~= '' then
  local routes = string.sub(ARGV[10], 2)
  if redis.call('HGET', key, 'm') ~= routes then
    redis.call('HSET', key, 'm', routes)
    changed = true
  end
end

if changed then redis.call('HSET', key, 't', ARGV[2]) end
redis.call('PEXPIRE', key, ARGV[1])
return state
`,
};

/**
 * Adds an alert to the index of recent alerts, a sorted set by received time, and keeps it to the
 * newest entries within the record TTL: one command, where a MULTI of four would make an ioredis
 * Pipeline (see write-together.ts in redis-streams for why the hot paths make none).
 *
 * KEYS: the index. ARGV: score, eventId, how many to keep, oldest score to keep, ttl ms.
 */
export const INDEX_RECENT: LuaCommand = {
  numberOfKeys: 1,
  lua: `
redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[3]) + 1))
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`,
};
