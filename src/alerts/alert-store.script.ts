import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis-streams/index.js';

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
const UPSERT_RECORD = `
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
`;

const SHA = createHash('sha1').update(UPSERT_RECORD).digest('hex');

/**
 * Runs the upsert script, sending its source when Redis does not know it yet (first use, restart):
 * EVAL rather than SCRIPT LOAD, which on Cluster would reach some node, not the one with the key.
 */
export async function runUpsertRecord(
  redis: RedisClient,
  key: string,
  args: string[],
): Promise<string> {
  try {
    return String(await redis.evalsha(SHA, 1, key, ...args));
  } catch (error) {
    if (!String((error as Error | undefined)?.message).startsWith('NOSCRIPT')) throw error;
    return String(await redis.eval(UPSERT_RECORD, 1, key, ...args));
  }
}
