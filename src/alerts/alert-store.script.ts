import { StreamScript } from '../redis-streams/index.js';

/**
 * Updates one alert record atomically. The recorder, the webhook handler and the dead-letter
 * recorder run in separate consumer groups, so their writes arrive in any order: content fields are
 * only ever added (HSETNX), attempts only grow, and a final status never goes back to pending.
 * `dead-lettered` may still become `delivered` (the entry was replayed and went through), never the
 * other way round.
 *
 * KEYS: record hash.
 * ARGV: ttl ms, now (ISO), eventId, new status ('' | 'delivered' | 'dead-lettered'),
 *       attempts ('' to keep), last error ('' to keep), delivered via ('' for none),
 *       then content field, value, ...
 * Returns the status after the update.
 */
export const UPSERT_RECORD = new StreamScript(
  'upsert-record',
  `
local key = KEYS[1]
local now = ARGV[2]
local before = redis.call('HGET', key, 'status')
for i = 8, #ARGV, 2 do redis.call('HSETNX', key, ARGV[i], ARGV[i + 1]) end
redis.call('HSETNX', key, 'eventId', ARGV[3])
redis.call('HSETNX', key, 'status', 'pending')
redis.call('HSETNX', key, 'attempts', '0')
redis.call('HSETNX', key, 'createdAt', now)

local target = ARGV[4]
if target == 'delivered' and before ~= 'delivered' then
  redis.call('HSET', key, 'status', 'delivered', 'deliveredAt', now, 'deliveredVia', ARGV[7])
elseif target == 'dead-lettered' and before ~= 'delivered' and before ~= 'dead-lettered' then
  redis.call('HSET', key, 'status', 'dead-lettered', 'deadLetteredAt', now)
end

if ARGV[5] ~= '' and tonumber(ARGV[5]) > tonumber(redis.call('HGET', key, 'attempts') or '0') then
  redis.call('HSET', key, 'attempts', ARGV[5])
end
if ARGV[6] ~= '' and before ~= 'delivered' then
  redis.call('HSET', key, 'lastError', ARGV[6])
end
redis.call('HSET', key, 'updatedAt', now)
redis.call('PEXPIRE', key, ARGV[1])
return redis.call('HGET', key, 'status')
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
