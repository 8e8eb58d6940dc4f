import { StreamScript } from '@redis-streams-alerts/nestjs-redis-streams';

/**
 * Updates one alert record atomically (field names in RECORD_FIELD, states in RECORD_STATE). The
 * recorder, the webhook handler and the dead-letter recorder run in separate consumer groups, so
 * their writes arrive in any order: the entry it points at is set by the first write, attempts only
 * grow, and a final state never goes back to pending. Dead-lettered may still become delivered
 * (the entry was replayed and went through), never the other way round. The change time moves only
 * when something changed. A record written before records were compact (long field names, content
 * inside) keeps its content fields and carries its state over.
 *
 * KEYS: record hash.
 * ARGV: ttl ms, now ms, stream ('' for the alerts stream), entry id,
 *       new state ('' | 'w' | 'l' | 'x'), attempts ('' to keep), last error ('' to keep),
 *       dead-letter entry id ('' for none).
 * Returns {the state after the update, 1 if this write created the record (or gave a record of
 * the old layout its entry) else 0}.
 */
export const UPSERT_RECORD = new StreamScript(
  'upsert-record',
  `
local key, target = KEYS[1], ARGV[5]
local changed = false
local created = redis.call('HSETNX', key, 'i', ARGV[4])
if created == 1 then
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
if changed then redis.call('HSET', key, 't', ARGV[2]) end
redis.call('PEXPIRE', key, ARGV[1])
return {state, created}
`,
);

/**
 * Adds an alert to the index of recent alerts, a sorted set by received time, and keeps it to the
 * newest entries within the record TTL: one command, where a MULTI of four would make an ioredis
 * Pipeline (see write-together.ts in redis-streams for why the hot paths make none).
 *
 * KEYS: the index. ARGV: score, eventId, how many to keep, oldest score to keep, ttl ms.
 */
export const INDEX_RECENT = new StreamScript(
  'index-recent',
  `
redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[3]) + 1))
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`,
);
