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

/*
 * Ownership. One delivery of an entry is named by its owner and its delivery count: XREADGROUP
 * starts the count at 1 and every XCLAIM that hands the entry out (reclaim, a due retry) raises it,
 * while EXTEND_LEASE's JUSTID does not. The scripts that settle a failed attempt (DEAD_LETTER,
 * SCHEDULE_RETRY) act only for the current delivery, so a consumer that wakes up after its entry
 * was handed to another, or handed back to it as a new delivery, changes nothing.
 *
 * Resends. ioredis Cluster resends commands in flight when a node dies, and a caller may send a
 * write again after a timeout, so every script must be safe to run twice: each says why at its top.
 *
 * Aborts. A script is not rolled back when it fails midway. Each fails, if at all, before its first
 * write: reads and the checks that can fail (NOGROUP) come first, and the first write is the one
 * that needs memory, which a full Redis (noeviction) refuses only while nothing has been written.
 *
 * Bookkeeping. The attempts hash and the retries set have no TTL: every path that finds an entry no
 * longer pending removes its fields there (see also SWEEP_BOOKKEEPING).
 */

/** The delivery of `id` now: its XPENDING row {id, owner, idle ms, delivery count}, or nil. */
const PENDING_ROW = `
local function pendingRow(id)
  return redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)[1]
end
`;

/**
 * Moves an entry to the dead-letter stream and acknowledges it, for the current delivery only.
 * When the entry is no longer pending (finished elsewhere) its leftover bookkeeping is removed;
 * when another delivery of it is current, nothing is done: that delivery settles it.
 * Safe to run twice because the first run acknowledges the entry, so a second finds it no longer
 * pending and writes nothing.
 * KEYS: stream, dead-letter stream, retries, attempts.
 * ARGV: group, consumer, delivery count, id, field, value, ...
 * Returns the dead-letter entry id, or nil when nothing was written.
 */
export const DEAD_LETTER = new StreamScript(
  'dead-letter',
  `${PENDING_ROW}
local id = ARGV[4]
local row = pendingRow(id)
if not row then
  redis.call('ZREM', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
  return false
end
if row[2] ~= ARGV[2] or row[4] ~= tonumber(ARGV[3]) then return false end
-- The append first: it is the write a full Redis refuses, and then nothing is done at all.
local args = {'XADD', KEYS[2], '*'}
for i = 5, #ARGV do args[#args + 1] = ARGV[i] end
local deadLetterId = redis.call(unpack(args))
redis.call('XACK', KEYS[1], ARGV[1], id)
redis.call('ZREM', KEYS[3], id)
redis.call('HDEL', KEYS[4], id)
return deadLetterId
`,
);

/**
 * Acknowledges an entry and forgets its retry bookkeeping; for idempotent handlers it also records,
 * in the same step, that the event was handled (the marker becomes `1`, see CLAIM_EVENT), so a
 * second delivery of it is skipped.
 * Any owner may acknowledge, also one whose delivery is no longer current: its handler succeeded,
 * so the event was handled (at least once), and refusing would only cause one more delivery.
 * Safe to run twice because every step is idempotent: XACK of an acknowledged entry, ZREM and HDEL
 * of missing members change nothing, and the marker is set to the same value.
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
 * the retries sorted set, due at the given time, for the current delivery only (as DEAD_LETTER).
 * Safe to run twice because a second run before the retry is taken writes the same values again,
 * and one after it was taken finds a new delivery (the claim raised the count) and does nothing.
 * KEYS: stream, retries, attempts. ARGV: group, consumer, delivery count, id, due time ms,
 * attempts spent.
 * Returns 1 when scheduled, 0 when this delivery is no longer current.
 */
export const SCHEDULE_RETRY = new StreamScript(
  'schedule-retry',
  `${PENDING_ROW}
local id = ARGV[4]
local row = pendingRow(id)
if not row then
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  return 0
end
if row[2] ~= ARGV[2] or row[4] ~= tonumber(ARGV[3]) then return 0 end
-- The count before the schedule: stopped between the two, the entry would be reclaimed with its
-- attempt counted, never retried without it.
redis.call('HSET', KEYS[3], id, ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[5], id)
return 1
`,
);

/*
 * RECLAIM and TAKE_DUE_RETRIES hand entries to the caller. A run whose reply is lost would leave
 * them owned by a caller that never starts them, until they are reclaimed with one more attempt
 * counted. So each call names a claim key of its own (unique per call, in KEYS for Cluster): a run
 * that claims something records there what it handed out, for claimMinIdleMs, and a second run of
 * the same call hands out the same entries again, as far as they are still that delivery, instead
 * of claiming (and counting) anything else.
 */

/**
 * The ids a claim asked for and XCLAIM did not return: deleted from the stream (XCLAIM drops them
 * from the pending list), so their attempts field (KEYS[3]) goes too.
 */
const FORGET_GONE = `
local function forgetGone(ids, seen)
  local gone = {}
  for _, id in ipairs(ids) do
    if not seen[id] then
      redis.call('HDEL', KEYS[3], id)
      gone[#gone + 1] = id
    end
  end
  return gone
end
`;

/** Hands out again what an earlier run of the same call claimed: {next, entries, attempts, deliveries}. */
const RECALL_CLAIM = `
local function recallClaim(record)
  local parts = {}
  for part in string.gmatch(record, '%S+') do parts[#parts + 1] = part end
  local entries, attempts, deliveries = {}, {}, {}
  for i = 2, #parts, 2 do
    local id, count = parts[i], tonumber(parts[i + 1])
    local row = pendingRow(id)
    if row and row[2] == ARGV[2] and row[4] == count then
      -- RETRYCOUNT keeps the delivery count: this is the same delivery, handed out again.
      local entry = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'RETRYCOUNT', count)[1]
      if entry then
        entries[#entries + 1] = entry
        attempts[#entries] = tonumber(redis.call('HGET', KEYS[3], id) or '0')
        deliveries[#entries] = count
      end
    end
  end
  return parts[1], entries, attempts, deliveries
end
`;

/**
 * Takes retries that are due and claims their entries for this consumer.
 * Safe to run twice because of the claim key (see above); without a recorded claim, ids taken by
 * a first run are no longer in the retries set.
 * KEYS: stream, retries, attempts, claim key. ARGV: group, consumer, now ms, count, claim key ms.
 * Returns {entries, attempts spent per entry, ids that are gone, delivery count per entry}.
 */
export const TAKE_DUE_RETRIES = new StreamScript(
  'take-due-retries',
  `${PENDING_ROW}${RECALL_CLAIM}${FORGET_GONE}
local record = redis.call('GET', KEYS[4])
if record then
  local _, entries, attempts, deliveries = recallClaim(record)
  return {entries, attempts, {}, deliveries}
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[3], 'LIMIT', 0, ARGV[4])
if #ids == 0 then return {{}, {}, {}, {}} end
-- The claim first: when the group is gone it fails before anything is written.
local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ids))
redis.call('ZREM', KEYS[2], unpack(ids))
local seen, attempts, deliveries, gone = {}, {}, {}, {}
local claim = {'0'}
for i, entry in ipairs(claimed) do
  local id = entry[1]
  seen[id] = true
  attempts[i] = tonumber(redis.call('HGET', KEYS[3], id) or '0')
  deliveries[i] = pendingRow(id)[4]
  claim[#claim + 1] = id
  claim[#claim + 1] = deliveries[i]
end
gone = forgetGone(ids, seen)
if #claimed > 0 then redis.call('SET', KEYS[4], table.concat(claim, ' '), 'PX', ARGV[5]) end
return {claimed, attempts, gone, deliveries}
`,
);

/**
 * Claims pending entries idle for at least ARGV[3] ms (optionally only those of one consumer) that
 * are not waiting for a scheduled retry, and counts the abandoned delivery as a spent attempt.
 * Entries deleted from the stream (trimmed) are dropped from the pending list by XCLAIM and
 * reported as gone, their bookkeeping removed.
 * Safe to run twice because of the claim key (see above): a second run hands out the entries of
 * the first again and counts nothing more.
 * KEYS: stream, retries, attempts, claim key.
 * ARGV: group, consumer, min idle ms, start id, count, claim key ms, [owner].
 * Returns {next start id or '0' when the scan is complete, entries, attempts spent, gone ids,
 * delivery count per entry}.
 */
export const RECLAIM = new StreamScript(
  'reclaim',
  `${PENDING_ROW}${RECALL_CLAIM}${FORGET_GONE}
local record = redis.call('GET', KEYS[4])
if record then
  local nextStart, entries, attempts, deliveries = recallClaim(record)
  return {nextStart, entries, attempts, {}, deliveries}
end
local pending
if ARGV[7] then
  pending = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], ARGV[4], '+', ARGV[5], ARGV[7])
else
  pending = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], ARGV[4], '+', ARGV[5])
end
local nextStart = '0'
if #pending == tonumber(ARGV[5]) then nextStart = '(' .. pending[#pending][1] end
local ids, counts = {}, {}
for _, p in ipairs(pending) do
  if not redis.call('ZSCORE', KEYS[2], p[1]) then
    ids[#ids + 1] = p[1]
    -- XCLAIM raises the delivery count by one.
    counts[p[1]] = p[4] + 1
  end
end
if #ids == 0 then return {nextStart, {}, {}, {}, {}} end
local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], unpack(ids))
local seen, attempts, deliveries, gone = {}, {}, {}, {}
local claim = {nextStart}
for i, entry in ipairs(claimed) do
  local id = entry[1]
  seen[id] = true
  attempts[i] = redis.call('HINCRBY', KEYS[3], id, 1)
  deliveries[i] = counts[id]
  claim[#claim + 1] = id
  claim[#claim + 1] = counts[id]
end
gone = forgetGone(ids, seen)
if #claimed > 0 then redis.call('SET', KEYS[4], table.concat(claim, ' '), 'PX', ARGV[6]) end
return {nextStart, claimed, attempts, gone, deliveries}
`,
);

/**
 * Whether a delivery is still current (the entry pending under the caller with that delivery
 * count), renewing its lease if so: a consumer whose entry waited for Redis asks before it runs the
 * handler again, since meanwhile another consumer may have claimed, settled or dead-lettered it.
 * Safe to run twice because it only reads and resets the idle time of what the caller owns.
 * KEYS: stream. ARGV: group, consumer, delivery count, id. Returns 1 when current, else 0.
 */
export const STILL_CURRENT = new StreamScript(
  'still-current',
  `${PENDING_ROW}
local row = pendingRow(ARGV[4])
if not row or row[2] ~= ARGV[2] or row[4] ~= tonumber(ARGV[3]) then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[4], 'JUSTID')
return 1
`,
);

/**
 * Keeps entries that handlers are still working on from looking idle, so no other consumer claims
 * live work. Only entries this consumer still owns are touched.
 * Safe to run twice because it only resets the idle time of entries the caller owns (JUSTID keeps
 * the delivery count): a second run resets it again.
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
 * Safe to run twice because a second run finds its own marker and renews it, giving the same
 * answer; if the marker moved on meanwhile (done, or another entry's after it expired), the answer
 * says so.
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
 * Safe to run twice because a second run finds the marker gone, done or another entry's, and
 * leaves it. One exception: the marker names the entry, not its delivery, so if another delivery
 * of the same entry took it in between, a late second run frees it early; at worst another entry
 * with the same eventId then runs alongside, which at-least-once delivery allows.
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
 * Safe to run twice for the same reason: a second run finds the dead letters deleted by the first
 * and appends nothing (it answers nil for them, as for ids that never existed).
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
 * Acknowledges an entry of an ordered partition, only while the caller holds its lease; for
 * idempotent handlers it also records, in the same step, that the event was handled (see ACK).
 * KEYS: stream, lease, [done key]. ARGV: group, id, "consumer|token", [window ms]. Returns XACK's
 * count, or -1 when the lease is no longer the caller's (nothing was done). Safe to run twice.
 */
export const FENCED_ACK = new StreamScript(
  'fenced-ack',
  `
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return -1 end
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if KEYS[3] then redis.call('SET', KEYS[3], 'done:' .. ARGV[2], 'PX', ARGV[4]) end
return acked
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
 * For the owner of an ordered partition: claims the oldest pending entries of the group, whoever
 * had them, so that they are handled again, in order, before anything new. XCLAIM drops ids
 * deleted from the stream from the pending list; when a whole page was deleted, the next page is
 * looked at (a few per call, so one call stays short), so an empty claim never hides entries that
 * are still pending.
 * KEYS: stream, lease. ARGV: group, consumer, "consumer|token", count.
 * Returns {entries, delivery counts before this claim, ids dropped as deleted, 1 when nothing
 * is pending any more else 0}, or -1 when the lease is no longer the caller's.
 */
export const TAKE_OVER_PENDING = new StreamScript(
  'take-over-pending',
  `
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return -1 end
local gone = {}
for page = 1, 10 do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', ARGV[4])
  if #pending == 0 then return {{}, {}, gone, 1} end
  local ids, deliveries = {}, {}
  for i, p in ipairs(pending) do
    ids[i] = p[1]
    deliveries[p[1]] = p[4]
  end
  local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ids))
  local seen, counts = {}, {}
  for i, entry in ipairs(claimed) do
    seen[entry[1]] = true
    counts[i] = deliveries[entry[1]]
  end
  for _, id in ipairs(ids) do
    if not seen[id] then gone[#gone + 1] = id end
  end
  if #claimed > 0 then return {claimed, counts, gone, 0} end
end
return {{}, {}, gone, 0}
`,
);

/**
 * Takes back this consumer's own pending entries that it does not hold in memory (ARGV from 6 on)
 * and that wait for no scheduled retry: after a restart under the same name, or after a reply that
 * never came (a read, reclaim or retry take that claimed entries in Redis). An entry last delivered
 * before ARGV[3] (Redis time in ms, taken when this run of the consumer began) was a previous
 * run's, which may have started it: that delivery counts as a spent attempt. One delivered since
 * was claimed by this run and never reached a handler: it keeps the attempts it had. Safe to run
 * twice: the first run's claims are deliveries since ARGV[3], which the second does not count.
 * Entries deleted from the stream are dropped from the pending list by XCLAIM and reported as gone.
 * KEYS: stream, retries, attempts. ARGV: group, consumer, run began ms, start id, count, id, ...
 * Returns {next start id or '0' when the scan is complete, entries, attempts spent, gone ids,
 * delivery count per entry}.
 */
export const RECOVER_OWN = new StreamScript(
  'recover-own',
  `${FORGET_GONE}
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[4], '+', ARGV[5], ARGV[2])
local nextStart = '0'
if #pending == tonumber(ARGV[5]) then nextStart = '(' .. pending[#pending][1] end
local held = {}
for i = 6, #ARGV do held[ARGV[i]] = true end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local began = tonumber(ARGV[3])
local ids, previousRun, counts = {}, {}, {}
for _, p in ipairs(pending) do
  if not held[p[1]] and not redis.call('ZSCORE', KEYS[2], p[1]) then
    ids[#ids + 1] = p[1]
    previousRun[p[1]] = now - p[3] < began
    -- XCLAIM raises the delivery count by one.
    counts[p[1]] = p[4] + 1
  end
end
if #ids == 0 then return {nextStart, {}, {}, {}, {}} end
local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ids))
local seen, attempts, gone, deliveries = {}, {}, {}, {}
for i, entry in ipairs(claimed) do
  seen[entry[1]] = true
  deliveries[i] = counts[entry[1]]
  if previousRun[entry[1]] then
    attempts[i] = redis.call('HINCRBY', KEYS[3], entry[1], 1)
  else
    attempts[i] = tonumber(redis.call('HGET', KEYS[3], entry[1]) or '0')
  end
end
gone = forgetGone(ids, seen)
return {nextStart, claimed, attempts, gone, deliveries}
`,
);

/**
 * The time (ms) of the server that holds a stream, for comparisons with its pending entries' idle
 * times (RECOVER_OWN): on Cluster the script runs on the stream's node, whose clock they use.
 * KEYS: stream. Returns the server's time in ms. Reads nothing, writes nothing.
 */
export const SERVER_TIME = new StreamScript(
  'server-time',
  `
local time = redis.call('TIME')
return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`,
);
