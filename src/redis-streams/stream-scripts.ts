import { createHash } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './redis-connections.js';

/**
 * The module's Lua scripts. Each does one multi-step change atomically, and touches only keys
 * passed in KEYS, all derived from one stream name (see stream-keys.ts), so they also run on
 * Redis Cluster when the stream is named with a hash tag.
 */
export class StreamScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** EVALSHA, loading the script when Redis does not know it (after a restart or SCRIPT FLUSH). */
  async run<T>(
    redis: RedisClient,
    keys: string[],
    args: Array<string | number | Buffer>,
  ): Promise<T> {
    // The named methods, not callBuffer('EVALSHA', ...): ioredis 6 drops the command name of
    // `call`/`callBuffer` when auto-pipelining is on, which a caller's own client may have.
    const client = redis as unknown as BufferScripting;
    try {
      return (await client.evalshaBuffer(this.sha, keys.length, ...keys, ...args)) as T;
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return (await client.evalBuffer(this.source, keys.length, ...keys, ...args)) as T;
    }
  }

  /**
   * Sends the script without waiting for it: as EVALSHA, or with `withSource` as EVAL (see
   * `queue`); the reply is as a pipeline gives it.
   */
  send(
    redis: RedisClient,
    keys: string[],
    args: Array<string | number | Buffer>,
    withSource = false,
  ): Promise<unknown> {
    return withSource
      ? redis.eval(this.source, keys.length, ...keys, ...args)
      : redis.evalsha(this.sha, keys.length, ...keys, ...args);
  }

  /**
   * Queues the script on a pipeline: as EVALSHA, or with `withSource` as EVAL, which also puts
   * it back in the script cache (see `isNoScript` for the reply that asks for it). EVAL rather than
   * SCRIPT LOAD: on Cluster, LOAD reaches one node, EVAL the node that owns the keys.
   */
  queue(
    pipeline: ChainableCommander,
    keys: string[],
    args: Array<string | number | Buffer>,
    withSource = false,
  ): void {
    if (withSource) pipeline.eval(this.source, keys.length, ...keys, ...args);
    else pipeline.evalsha(this.sha, keys.length, ...keys, ...args);
  }
}

/** ioredis has Buffer-reply variants of every command; its types leave out these two. */
interface BufferScripting {
  evalshaBuffer(...args: Array<string | number | Buffer>): Promise<unknown>;
  evalBuffer(...args: Array<string | number | Buffer>): Promise<unknown>;
}

export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * Publishes a batch, with de-duplication by eventId for the events that carry a dedup key: an
 * eventId seen within the window (also earlier in the same batch) returns the entry id of its first
 * publish instead of appending again. One call appends many events, so a batch costs the client one
 * command to build and parse and Redis one command to read, not one per event.
 * With a guard key, the call is safe to run twice (a Cluster client resends commands that were in
 * flight on a node that failed): it keeps the call's reply for a short while, and a second run of
 * the same call answers that instead of appending again.
 * KEYS: stream, then the guard key and dedup keys. ARGV: max length ('' for none), index in KEYS of
 * the guard key (0 for none), how long the guard lives (ms), then for each event: the index in KEYS
 * of its dedup key (0 for none), how long that key lives (ms), its number of field/value strings,
 * field, value, ...
 * Returns a flat list: entry id, 1 if it was a duplicate else 0, for each event in order.
 */
export const PUBLISH = new StreamScript(
  'publish',
  `
local maxLen, guard = ARGV[1], tonumber(ARGV[2])
local out = {}
if guard > 0 then
  local sent = redis.call('GET', KEYS[guard])
  if sent then
    for word in string.gmatch(sent, '%S+') do out[#out + 1] = word end
    for i = 2, #out, 2 do out[i] = tonumber(out[i]) end
    return out
  end
end
-- One XADD argument table for every event: its head stays, each event's fields overwrite the
-- tail, and unpack takes only this event's part.
local args = {'XADD', KEYS[1]}
if maxLen ~= '' then
  args[3] = 'MAXLEN'
  args[4] = '~'
  args[5] = maxLen
end
args[#args + 1] = '*'
local base = #args
local o = 0
local a = 4
local last = #ARGV
while a <= last do
  local k = tonumber(ARGV[a])
  local n = tonumber(ARGV[a + 2])
  local existing = false
  if k > 0 then existing = redis.call('GET', KEYS[k]) end
  if existing then
    out[o + 1] = existing
    out[o + 2] = 1
  else
    for i = 1, n do args[base + i] = ARGV[a + 2 + i] end
    local id = redis.call(unpack(args, 1, base + n))
    if k > 0 then redis.call('SET', KEYS[k], id, 'PX', ARGV[a + 1]) end
    out[o + 1] = id
    out[o + 2] = 0
  end
  o = o + 2
  a = a + n + 3
end
if guard > 0 then redis.call('SET', KEYS[guard], table.concat(out, ' '), 'PX', ARGV[3]) end
return out
`,
);

/**
 * Moves an entry to the dead-letter stream and acknowledges it, unless it is no longer pending
 * (another consumer finished it after a reclaim), in which case nothing is written.
 * KEYS: stream, dead-letter stream, retries, attempts. ARGV: group, id, field, value, ...
 * Returns the dead-letter entry id, or nil.
 */
export const DEAD_LETTER = new StreamScript(
  'dead-letter',
  `
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return false end
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('HDEL', KEYS[4], ARGV[2])
local args = {'XADD', KEYS[2], '*'}
for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
return redis.call(unpack(args))
`,
);

/**
 * Acknowledges an entry and forgets its retry bookkeeping; for idempotent handlers it also records,
 * in the same step, that the event was handled (the marker becomes `1`, see CLAIM_EVENT), so a
 * second delivery of it is skipped.
 * KEYS: stream, retries, attempts, [done key]. ARGV: group, id, [window ms]. Returns XACK's count.
 */
export const ACK = new StreamScript(
  'ack',
  `
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
if KEYS[4] then redis.call('SET', KEYS[4], '1', 'PX', ARGV[3]) end
return acked
`,
);

/**
 * Schedules a retry, in Redis so it survives a crash: the entry stays pending and its id goes into
 * the retries sorted set, due at ARGV[3]. Only the consumer that still owns the entry may do so.
 * KEYS: stream, retries, attempts. ARGV: group, consumer, due time ms, id, attempts spent.
 * Returns 1 when scheduled, 0 when the entry is no longer this consumer's.
 */
export const SCHEDULE_RETRY = new StreamScript(
  'schedule-retry',
  `
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[4], ARGV[4], 1)
if #pending == 0 or pending[1][2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1
`,
);

/**
 * Takes retries that are due and claims their entries for this consumer.
 * KEYS: stream, retries, attempts. ARGV: group, consumer, now ms, count.
 * Returns {entries, attempts spent per entry, ids that are gone}.
 */
export const TAKE_DUE_RETRIES = new StreamScript(
  'take-due-retries',
  `
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[3], 'LIMIT', 0, ARGV[4])
if #ids == 0 then return {{}, {}, {}} end
redis.call('ZREM', KEYS[2], unpack(ids))
local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ids))
local seen, attempts, gone = {}, {}, {}
for i, entry in ipairs(claimed) do
  seen[entry[1]] = true
  attempts[i] = tonumber(redis.call('HGET', KEYS[3], entry[1]) or '0')
end
for _, id in ipairs(ids) do
  if not seen[id] then
    redis.call('HDEL', KEYS[3], id)
    gone[#gone + 1] = id
  end
end
return {claimed, attempts, gone}
`,
);

/**
 * Claims pending entries idle for at least ARGV[3] ms (optionally only those of one consumer) that
 * are not waiting for a scheduled retry, and counts the abandoned delivery as a spent attempt.
 * Entries deleted from the stream (trimmed) are dropped from the pending list by XCLAIM and
 * reported as gone.
 * KEYS: stream, retries, attempts. ARGV: group, consumer, min idle ms, start id, count, [owner].
 * Returns {next start id or '0' when the scan is complete, entries, attempts spent, gone ids}.
 */
export const RECLAIM = new StreamScript(
  'reclaim',
  `
local pending
if ARGV[6] then
  pending = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], ARGV[4], '+', ARGV[5], ARGV[6])
else
  pending = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], ARGV[4], '+', ARGV[5])
end
local nextStart = '0'
if #pending == tonumber(ARGV[5]) then nextStart = '(' .. pending[#pending][1] end
local ids = {}
for _, p in ipairs(pending) do
  if not redis.call('ZSCORE', KEYS[2], p[1]) then ids[#ids + 1] = p[1] end
end
if #ids == 0 then return {nextStart, {}, {}, {}} end
local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], unpack(ids))
local seen, attempts, gone = {}, {}, {}
for i, entry in ipairs(claimed) do
  seen[entry[1]] = true
  attempts[i] = redis.call('HINCRBY', KEYS[3], entry[1], 1)
end
for _, id in ipairs(ids) do
  if not seen[id] then
    redis.call('HDEL', KEYS[3], id)
    gone[#gone + 1] = id
  end
end
return {nextStart, claimed, attempts, gone}
`,
);

/**
 * Keeps entries that handlers are still working on from looking idle, so no other consumer claims
 * live work. Only entries this consumer still owns are touched.
 * KEYS: stream. ARGV: group, consumer, id, ... Returns how many were extended.
 */
export const EXTEND_LEASE = new StreamScript(
  'extend-lease',
  `
local extended = 0
for i = 3, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #pending > 0 and pending[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    extended = extended + 1
  end
end
return extended
`,
);

/**
 * For idempotent handlers: takes the right to run the handler for one eventId. The marker holds
 * `running:<entry id>` while a handler runs (with a lease, so a crash frees it) and, once
 * acknowledged, `1` (see ACK): it lives a day per event, and Redis stores a small integer in no
 * memory of its own. Markers that older versions left (`done:<entry id>`) count as done too. A
 * second entry with the same eventId finds it busy or done.
 * KEYS: marker. ARGV: `running:<entry id>`, lease ms. Returns 'run', 'done' or 'busy'.
 */
export const CLAIM_EVENT = new StreamScript(
  'claim-event',
  `
local current = redis.call('GET', KEYS[1])
if not current or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 'run'
end
if string.sub(current, 1, 8) == 'running:' then return 'busy' end
return 'done'
`,
);

/**
 * Gives up the right to run taken with CLAIM_EVENT after a failed attempt, if still held.
 * KEYS: marker. ARGV: `running:<entry id>`. Returns 1 when released.
 */
export const RELEASE_EVENT = new StreamScript(
  'release-event',
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`,
);

/**
 * Moves dead letters back to their stream: each is appended again without its `dlq-*` fields and
 * removed from the dead-letter stream in the same step, so replaying an entry twice (a double
 * click, two operators) appends it once.
 * KEYS: dead-letter stream, stream. ARGV: dead-letter ids. Returns the new entry id per id, or nil
 * where the dead letter no longer exists.
 */
export const REPLAY_DEAD_LETTERS = new StreamScript(
  'replay-dead-letters',
  `
local out = {}
for i, id in ipairs(ARGV) do
  local found = redis.call('XRANGE', KEYS[1], id, id)
  if #found == 0 then
    out[i] = false
  else
    local fields = found[1][2]
    local args = {'XADD', KEYS[2], '*'}
    for j = 1, #fields, 2 do
      if string.sub(fields[j], 1, 4) ~= 'dlq-' then
        args[#args + 1] = fields[j]
        args[#args + 1] = fields[j + 1]
      end
    end
    out[i] = redis.call(unpack(args))
    redis.call('XDEL', KEYS[1], id)
  end
end
return out
`,
);

/**
 * Takes or keeps the lease of a partition for ordered processing. A new lease gets the next
 * fencing token, which only ever grows: whatever a former owner still tries is refused by the
 * scripts below, and downstream systems can refuse it by comparing tokens.
 * KEYS: lease, fencing counter. ARGV: consumer, lease ms.
 * Returns the token, or 0 when another consumer holds the lease.
 */
export const ACQUIRE_LEASE = new StreamScript(
  'acquire-lease',
  `
local current = redis.call('GET', KEYS[1])
if current then
  local owner, token = string.match(current, '^(.*)|(%d+)$')
  if owner ~= ARGV[1] then return 0 end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(token)
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token
`,
);

/**
 * Extends (ARGV[2] > 0) or gives up (ARGV[2] = 0) a lease, only while it is still the caller's.
 * KEYS: lease. ARGV: "consumer|token", lease ms. Returns 1 if it was the caller's, else 0.
 */
export const RENEW_LEASE = new StreamScript(
  'renew-lease',
  `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) else redis.call('DEL', KEYS[1]) end
return 1
`,
);

/**
 * Acknowledges an entry of an ordered partition, only while the caller holds its lease.
 * KEYS: stream, lease. ARGV: group, id, "consumer|token". Returns XACK's count, or -1 when the
 * lease is no longer the caller's (nothing was done).
 */
export const FENCED_ACK = new StreamScript(
  'fenced-ack',
  `
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return -1 end
return redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
`,
);

/**
 * Dead-letters an entry of an ordered partition, only while the caller holds its lease.
 * KEYS: stream, dead-letter stream, lease. ARGV: group, id, "consumer|token", field, value, ...
 * Returns the dead-letter entry id, false if the entry was no longer pending, or -1 when the
 * lease is no longer the caller's.
 */
export const FENCED_DEAD_LETTER = new StreamScript(
  'fenced-dead-letter',
  `
if redis.call('GET', KEYS[3]) ~= ARGV[3] then return -1 end
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return false end
local args = {'XADD', KEYS[2], '*'}
for i = 4, #ARGV do args[#args + 1] = ARGV[i] end
return redis.call(unpack(args))
`,
);

/**
 * For a new owner of an ordered partition: claims the oldest pending entries of the group, whoever
 * had them, so that they are handled again, in order, before anything new. Entries deleted from
 * the stream meanwhile are dropped from the pending list.
 * KEYS: stream, lease. ARGV: group, consumer, "consumer|token", count.
 * Returns {entries, delivery counts}, or -1 when the lease is no longer the caller's.
 */
export const TAKE_OVER_PENDING = new StreamScript(
  'take-over-pending',
  `
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return -1 end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', ARGV[4])
if #pending == 0 then return {{}, {}} end
local ids, deliveries = {}, {}
for i, p in ipairs(pending) do
  ids[i] = p[1]
  deliveries[p[1]] = p[4]
end
local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ids))
local counts = {}
for i, entry in ipairs(claimed) do counts[i] = deliveries[entry[1]] end
return {claimed, counts}
`,
);
