import { StreamScript } from './stream-script.js';

/*
 * Flow control of a consumer group, shared by all its instances: a pause by hand, a pause while
 * the destination is busy, a circuit that opens when the destination is down, and a rate limit.
 * The group's flow hash (see streamKeys.flow) holds:
 * - `paused`: '1' while paused by hand;
 * - `busyUntil`: server time (ms) until which no call starts, after a busy signal;
 * - `streak`, `lastFailed`: failures of different entries in a row, and the last one's id;
 * - `openUntil`, `probeMs`: while the circuit is open, when the next probe may go, and the wait
 *   after that if it fails too;
 * - `probe`, `probeUntil`: the consumer whose call is the probe, and until when it holds that.
 * Times are the server's (TIME), so the instances' clocks do not matter.
 */

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * The flow state, and the server's time to compare it with.
 * Safe to run twice because it only reads. Flagged no-writes, so that it also runs while Redis
 * is full (noeviction refuses scripts that may write).
 * KEYS: flow hash. Returns {now, field, value, field, value, ...}.
 */
export const FLOW_STATE = new StreamScript(
  'flow-state',
  `#!lua flags=no-writes${NOW}
local state = redis.call('HGETALL', KEYS[1])
table.insert(state, 1, now)
return state
`,
);

/**
 * The destination said it is busy: no call starts for ARGV[1] ms (at most ARGV[2]).
 * Safe to run twice because it only moves `busyUntil` later, to the same time or near it.
 * KEYS: flow hash. ARGV: delay ms, most delay ms. Returns busyUntil.
 */
export const FLOW_BUSY = new StreamScript(
  'flow-busy',
  `${NOW}
local delay = math.min(tonumber(ARGV[1]), tonumber(ARGV[2]))
local untilAt = now + delay
local current = tonumber(redis.call('HGET', KEYS[1], 'busyUntil') or '0')
if current < untilAt then
  redis.call('HSET', KEYS[1], 'busyUntil', untilAt)
  current = untilAt
end
return current
`,
);

/**
 * A call failed for entry ARGV[1]. A failure of another entry than the last one lengthens the
 * streak; at ARGV[2] in a row the circuit opens for ARGV[3] ms. A failed probe (ARGV[5] = '1')
 * keeps it open for twice as long as last time, at most ARGV[4] ms.
 * Safe to run twice because the same entry does not lengthen the streak again, and a probe is
 * given up once (the second run finds no probe held).
 * KEYS: flow hash. ARGV: entry id, failures to open, first probe wait ms, most probe wait ms,
 * probe. Returns {open (1/0), openUntil}.
 */
export const FLOW_FAILED = new StreamScript(
  'flow-failed',
  `${NOW}
local key = KEYS[1]
local openUntil = tonumber(redis.call('HGET', key, 'openUntil') or '0')
if ARGV[5] == '1' and redis.call('HGET', key, 'probe') then
  local wait = math.min(tonumber(redis.call('HGET', key, 'probeMs') or ARGV[3]) * 2, tonumber(ARGV[4]))
  openUntil = now + wait
  redis.call('HSET', key, 'openUntil', openUntil, 'probeMs', wait)
  redis.call('HDEL', key, 'probe', 'probeUntil')
  return {1, openUntil}
end
if openUntil > 0 then return {1, openUntil} end
if redis.call('HGET', key, 'lastFailed') ~= ARGV[1] then
  local streak = redis.call('HINCRBY', key, 'streak', 1)
  redis.call('HSET', key, 'lastFailed', ARGV[1])
  if streak >= tonumber(ARGV[2]) then
    openUntil = now + tonumber(ARGV[3])
    redis.call('HSET', key, 'openUntil', openUntil, 'probeMs', ARGV[3])
    return {1, openUntil}
  end
end
return {0, 0}
`,
);

/**
 * A call succeeded: the streak ends, and an open circuit closes.
 * Safe to run twice because the second run finds nothing to remove.
 * KEYS: flow hash. Returns 1 when a circuit was closed.
 */
export const FLOW_SUCCEEDED = new StreamScript(
  'flow-succeeded',
  `
local wasOpen = redis.call('HGET', KEYS[1], 'openUntil')
redis.call('HDEL', KEYS[1], 'streak', 'lastFailed', 'openUntil', 'probeMs', 'probe', 'probeUntil')
if wasOpen then return 1 end
return 0
`,
);

/**
 * Takes the probe of an open circuit whose wait is over, unless another consumer holds it.
 * Safe to run twice because the holder taking it again just renews it.
 * KEYS: flow hash. ARGV: consumer, hold ms. Returns 1 when the caller holds the probe.
 */
export const FLOW_TAKE_PROBE = new StreamScript(
  'flow-take-probe',
  `${NOW}
local key = KEYS[1]
local openUntil = tonumber(redis.call('HGET', key, 'openUntil') or '0')
if openUntil == 0 or openUntil > now then return 0 end
local holder = redis.call('HGET', key, 'probe')
local heldUntil = tonumber(redis.call('HGET', key, 'probeUntil') or '0')
if holder and holder ~= ARGV[1] and heldUntil > now then return 0 end
redis.call('HSET', key, 'probe', ARGV[1], 'probeUntil', now + tonumber(ARGV[2]))
return 1
`,
);

/**
 * Takes up to ARGV[3] tokens of a token bucket that holds at most ARGV[1] and refills ARGV[1]
 * per ARGV[2] ms; a negative count gives unused tokens back.
 * Safe to run twice because a second run only takes more (fewer calls, never more than the
 * limit) or gives back up to the bucket's size.
 * KEYS: bucket hash. ARGV: max, per ms, count. Returns {granted, ms until the next token}.
 */
export const TAKE_TOKENS = new StreamScript(
  'take-tokens',
  `${NOW}
local max = tonumber(ARGV[1])
local per = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or ARGV[1])
local at = tonumber(redis.call('HGET', KEYS[1], 'at') or now)
tokens = math.min(max, tokens + (now - at) * max / per)
local granted = 0
if want < 0 then
  tokens = math.min(max, tokens - want)
else
  granted = math.min(math.floor(tokens), want)
  tokens = tokens - granted
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], per * 2 + 1000)
local wait = 0
if tokens < 1 then wait = math.ceil((1 - tokens) * per / max) end
return {granted, wait}
`,
);
