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
 * The destination said it is busy: no call starts for ARGV[1] ms (at most ARGV[2]). Then the
 * group resumes at a rate (see FLOW_TAKE): one call a second after a first busy signal, doubling;
 * half the rate it had reached after a later one. The calls already under way when the signal came
 * answer busy too: one halving per spell (a second, or the delay if longer).
 * Safe to run twice because it only moves `busyUntil` later, and halves at most once per spell.
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
local cutAt = tonumber(redis.call('HGET', KEYS[1], 'rateCutAt') or '0')
if now - cutAt >= math.max(delay, 1000) then
  local rate = tonumber(redis.call('HGET', KEYS[1], 'rate') or '0')
  local threshold = 0
  if rate > 0 then
    rate = math.max(1, rate / 2)
    threshold = rate
  else
    rate = 1
  end
  redis.call('HSET', KEYS[1], 'rate', tostring(rate), 'rateThreshold', tostring(threshold),
    'rateCutAt', now, 'rateAt', current, 'rateTokens', 1, 'rateTokensAt', current)
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
 * Takes up to ARGV[1] call tokens (a negative count gives unused ones back) from the limits that
 * apply now, and returns how many were granted and, when none, the ms until the next:
 * - the configured rate limit (ARGV[2] calls per ARGV[3] ms; ARGV[2] = 0: none), a token bucket
 *   in the flow hash (`limitTokens`, `limitAt`: one key, one slot);
 * - the rate the group resumes at after busy signals (`rate` in the flow hash, calls/s; see
 *   FLOW_BUSY): it doubles each second until the rate of the last busy signal's halving
 *   (`rateThreshold`; 0 before one), then grows by a tenth each second, and is dropped once it is
 *   past any rate that matters (10,000/s).
 * Both buckets hold one token at most: calls are paced evenly, never sent in a burst, so that a
 * receiver that limits at the same rate, with its own bucket, finds room for each despite jitter.
 * Safe to run twice because a second run only takes more (fewer calls, never more than a limit)
 * or gives back up to a bucket's size.
 * KEYS: flow hash. ARGV: count, max, per ms. Returns {granted, wait ms}.
 */
export const FLOW_TAKE = new StreamScript(
  'flow-take',
  `${NOW}
local want = tonumber(ARGV[1])
local granted = want
local wait = 0
local cmax = tonumber(ARGV[2])
local ctokens
if cmax > 0 then
  local per = tonumber(ARGV[3])
  ctokens = tonumber(redis.call('HGET', KEYS[1], 'limitTokens') or '1')
  local at = tonumber(redis.call('HGET', KEYS[1], 'limitAt') or now)
  ctokens = math.min(1, ctokens + math.max(0, now - at) * cmax / per)
  if want > 0 then
    granted = math.min(granted, math.floor(ctokens))
    if ctokens < 1 then wait = math.ceil((1 - ctokens) * per / cmax) end
  end
end
local rate = tonumber(redis.call('HGET', KEYS[1], 'rate') or '0')
local tokens, grownAt
if rate > 0 then
  local threshold = tonumber(redis.call('HGET', KEYS[1], 'rateThreshold') or '0')
  grownAt = tonumber(redis.call('HGET', KEYS[1], 'rateAt') or now)
  local filledAt = tonumber(redis.call('HGET', KEYS[1], 'rateTokensAt') or now)
  tokens = tonumber(redis.call('HGET', KEYS[1], 'rateTokens') or '0')
  if now > filledAt then
    tokens = math.min(1, tokens + (now - filledAt) * rate / 1000)
    filledAt = now
  end
  local steps = 0
  if now > grownAt then steps = math.floor((now - grownAt) / 1000) end
  for _ = 1, math.min(steps, 60) do
    if threshold == 0 or rate < threshold then rate = rate * 2 else rate = rate + math.max(1, rate / 10) end
  end
  grownAt = grownAt + steps * 1000
  if rate >= 10000 then
    redis.call('HDEL', KEYS[1], 'rate', 'rateThreshold', 'rateAt', 'rateTokens', 'rateTokensAt')
    rate = 0
  else
    if want > 0 then
      granted = math.min(granted, math.floor(tokens))
      if tokens < 1 then wait = math.max(wait, math.ceil((1 - tokens) * 1000 / rate)) end
    end
  end
end
if want < 0 then granted = 0 end
local used = granted
if want < 0 then used = want end
if cmax > 0 then
  redis.call('HSET', KEYS[1], 'limitTokens', tostring(math.min(1, ctokens - used)), 'limitAt', now)
end
if rate > 0 then
  redis.call('HSET', KEYS[1], 'rate', tostring(rate), 'rateAt', grownAt,
    'rateTokens', tostring(math.min(1, tokens - used)), 'rateTokensAt', now)
end
if granted > 0 then wait = 0 end
return {granted, wait}
`,
);
