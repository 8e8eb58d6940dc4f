import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { ChainableCommander, Redis } from 'ioredis';
import { streamKeys } from '../src/index.js';
import { StreamScript } from '../src/scripts/stream-script.js';
import { LUA_DIR, expandLua } from '../src/scripts/lua-loader.js';
import type { Slots } from '../src/scripts/script-signature.js';
import * as deadLetterReplay from '../src/scripts/dead-letter-replay.script.js';
import * as fenced from '../src/scripts/fenced.scripts.js';
import * as flow from '../src/scripts/flow.scripts.js';
import * as groupLifecycle from '../src/scripts/group-lifecycle.scripts.js';
import * as groupSettlement from '../src/scripts/group-settlement.scripts.js';
import * as idempotency from '../src/scripts/idempotency.scripts.js';
import * as oldWork from '../src/scripts/old-work.scripts.js';
import * as publish from '../src/scripts/publish.script.js';
import * as retentionTrim from '../src/scripts/retention-trim.script.js';
import { RedisTestbed } from './support/redis-testbed.js';

const run = promisify(execFile);

/** Every script the library exports, by name (its file is lua/<name>.lua). */
const SCRIPTS = new Map(
  [
    deadLetterReplay,
    fenced,
    flow,
    groupLifecycle,
    groupSettlement,
    idempotency,
    oldWork,
    publish,
    retentionTrim,
  ]
    .flatMap((module) => Object.values(module))
    .filter((value): value is StreamScript => value instanceof StreamScript)
    .map((script) => [script.name, script]),
);

const [S, G, ME, OTHER] = ['lua', 'g', 'c1', 'c0'];
const K = {
  deadLetter: streamKeys.deadLetter(S),
  retries: streamKeys.retries(S, G),
  attempts: streamKeys.attempts(S, G),
  done: streamKeys.done(S, G, 'e1'),
  claim: streamKeys.claim(S, G, 'call-1'),
  lease: streamKeys.lease(S, G),
  fence: streamKeys.fence(S, G),
  flow: streamKeys.flow(S, G),
  guard: `${S}:guard:call-1`,
  dedup: streamKeys.dedup(S, 'e1'),
};
const HOLDER = `${ME}|1`;
const HOUR = 3_600_000;

/** One call of a script, as its callers make it: the state it expects, its reply and effect. */
interface Case {
  keys: string[];
  args: Array<string | number>;
  given?: (redis: Redis) => Promise<unknown>;
  /** Checks the reply, its Buffers turned into strings. */
  reply: (reply: unknown) => void;
  /** Checks what the call changed in Redis. */
  effect: (redis: Redis) => Promise<void>;
}

/** Appends entries with the given ids to S and reads them as `consumer` (delivery 1 of each). */
async function delivered(redis: Redis, consumer: string, ...ids: string[]): Promise<void> {
  for (const id of ids) await redis.xadd(S, id, 'n', id);
  await redis.xgroup('CREATE', S, G, '0', 'MKSTREAM');
  await redis.xreadgroup('GROUP', G, consumer, 'STREAMS', S, '>');
}

/** [owner, delivery count] of a pending entry, or null. */
async function pendingRow(redis: Redis, id: string): Promise<[string, number] | null> {
  const [row] = (await redis.xpending(S, G, id, id, 1)) as Array<[string, string, number, number]>;
  return row ? [row[1], row[3]] : null;
}

const ENTRY_1 = ['1-0', ['n', '1-0']];

const CASES: Record<string, Case> = {
  ack: {
    given: async (redis) => {
      await delivered(redis, ME, '1-0');
      await redis.zadd(K.retries, 9, '1-0');
      await redis.hset(K.attempts, '1-0', 2);
    },
    keys: [S, K.retries, K.attempts, K.done],
    args: [G, '1-0', HOUR],
    reply: (reply) => expect(reply).toBe(1),
    effect: async (redis) => {
      expect(await pendingRow(redis, '1-0')).toBeNull();
      expect(await redis.zcard(K.retries)).toBe(0);
      expect(await redis.hlen(K.attempts)).toBe(0);
      expect(await redis.get(K.done)).toBe('1');
    },
  },
  'acquire-lease': {
    keys: [K.lease, K.fence],
    args: [ME, 30_000],
    reply: (reply) => expect(reply).toBe(1),
    effect: async (redis) => expect(await redis.get(K.lease)).toBe(HOLDER),
  },
  'claim-event': {
    keys: [K.done],
    args: ['running:1-0', 30_000],
    reply: (reply) => expect(reply).toBe('run'),
    effect: async (redis) => expect(await redis.get(K.done)).toBe('running:1-0'),
  },
  'dead-letter': {
    given: (redis) => delivered(redis, ME, '1-0'),
    keys: [S, K.deadLetter, K.retries, K.attempts],
    args: [G, ME, 1, '1-0', 'n', '1-0', 'dlq-reason', 'poison'],
    reply: (reply) => expect(reply).toMatch(/^\d+-\d+$/),
    effect: async (redis) => {
      expect(await pendingRow(redis, '1-0')).toBeNull();
      const [[, fields]] = await redis.xrange(K.deadLetter, '-', '+');
      expect(fields).toEqual(['n', '1-0', 'dlq-reason', 'poison']);
    },
  },
  'delete-idle-consumers': {
    given: async (redis) => {
      await redis.xgroup('CREATE', S, G, '$', 'MKSTREAM');
      await redis.xgroup('CREATECONSUMER', S, G, ME);
      await redis.xgroup('CREATECONSUMER', S, G, OTHER);
    },
    keys: [S],
    args: [G, ME, 0, 10],
    reply: (reply) => expect(reply).toEqual([OTHER]),
    effect: async (redis) => {
      const consumers = (await redis.xinfo('CONSUMERS', S, G)) as unknown[][];
      expect(consumers.map((info) => info[1])).toEqual([ME]);
    },
  },
  'ensure-group': {
    given: async (redis) => {
      await redis.zadd(K.retries, 1, '9-0');
      await redis.hset(K.attempts, '9-0', 1);
    },
    keys: [S, K.retries, K.attempts],
    args: [G, '0'],
    reply: (reply) => expect(reply).toEqual([1, '0-0']),
    effect: async (redis) => {
      const groups = (await redis.xinfo('GROUPS', S)) as unknown[][];
      expect(groups.map((info) => info[1])).toEqual([G]);
      expect(await redis.exists(K.retries, K.attempts)).toBe(0);
    },
  },
  'extend-lease': {
    given: (redis) => delivered(redis, ME, '1-0', '2-0'),
    keys: [S],
    args: [G, ME, '1-0', '2-0', '3-0'],
    reply: (reply) => expect(reply).toBe(2),
    effect: async (redis) => expect(await pendingRow(redis, '1-0')).toEqual([ME, 1]),
  },
  'fenced-ack': {
    given: async (redis) => {
      await delivered(redis, ME, '1-0');
      await redis.set(K.lease, HOLDER);
    },
    keys: [S, K.lease, K.done],
    args: [G, '1-0', HOLDER, HOUR],
    reply: (reply) => expect(reply).toBe(1),
    effect: async (redis) => {
      expect(await pendingRow(redis, '1-0')).toBeNull();
      expect(await redis.get(K.done)).toBe('done:1-0');
    },
  },
  'fenced-dead-letter': {
    given: async (redis) => {
      await delivered(redis, ME, '1-0');
      await redis.set(K.lease, HOLDER);
    },
    keys: [S, K.deadLetter, K.lease],
    args: [G, '1-0', HOLDER, 'n', '1-0', 'dlq-reason', 'poison'],
    reply: (reply) => expect(reply).toMatch(/^\d+-\d+$/),
    effect: async (redis) => {
      expect(await pendingRow(redis, '1-0')).toBeNull();
      expect(await redis.xlen(K.deadLetter)).toBe(1);
    },
  },
  'flow-busy': {
    keys: [K.flow],
    args: [1_000, 300_000],
    reply: (reply) => expect(Math.abs(Number(reply) - Date.now() - 1_000)).toBeLessThan(5_000),
    effect: async (redis) => {
      expect(Number(await redis.hget(K.flow, 'busyUntil'))).toBeGreaterThan(Date.now() - 5_000);
      expect(await redis.hget(K.flow, 'rate')).toBe('1');
    },
  },
  'flow-failed': {
    keys: [K.flow],
    args: ['1-0', 1, 5_000, 30_000, '0'],
    reply: (reply) => {
      const [open, openUntil] = reply as [number, number];
      expect(open).toBe(1);
      expect(Math.abs(openUntil - Date.now() - 5_000)).toBeLessThan(5_000);
    },
    effect: async (redis) => {
      expect(await redis.hmget(K.flow, 'streak', 'lastFailed', 'probeMs')).toEqual([
        '1',
        '1-0',
        '5000',
      ]);
    },
  },
  'flow-state': {
    given: (redis) => redis.hset(K.flow, 'paused', '1'),
    keys: [K.flow],
    args: [],
    reply: (reply) => {
      const [now, ...fields] = reply as [number, ...string[]];
      expect(Math.abs(now - Date.now())).toBeLessThan(5_000);
      expect(fields).toEqual(['paused', '1']);
    },
    effect: async (redis) => expect(await redis.hgetall(K.flow)).toEqual({ paused: '1' }),
  },
  'flow-succeeded': {
    given: (redis) => redis.hset(K.flow, 'openUntil', 5, 'streak', 3, 'paused', '1'),
    keys: [K.flow],
    args: [],
    reply: (reply) => expect(reply).toBe(1),
    effect: async (redis) => expect(await redis.hgetall(K.flow)).toEqual({ paused: '1' }),
  },
  'flow-take': {
    keys: [K.flow],
    args: [1, 10, 1_000],
    reply: (reply) => expect(reply).toEqual([1, 0]),
    effect: async (redis) => expect(await redis.hget(K.flow, 'limitTokens')).toBe('0'),
  },
  'flow-take-probe': {
    given: (redis) => redis.hset(K.flow, 'openUntil', 1),
    keys: [K.flow],
    args: [ME, 5_000],
    reply: (reply) => expect(reply).toBe(1),
    effect: async (redis) => expect(await redis.hget(K.flow, 'probe')).toBe(ME),
  },
  publish: {
    // Two events with the same eventId: the second is the first's duplicate.
    keys: [S, K.guard, K.dedup],
    args: ['', 2, 60_000, 3, HOUR, 2, 'n', 'first', 3, HOUR, 2, 'n', 'second'],
    reply: (reply) => {
      const [id, duplicate, sameId, secondDuplicate] = reply as [string, number, string, number];
      expect([duplicate, secondDuplicate]).toEqual([0, 1]);
      expect(sameId).toBe(id);
    },
    effect: async (redis) => {
      const entries = await redis.xrange(S, '-', '+');
      expect(entries.map(([, fields]) => fields)).toEqual([['n', 'first']]);
      expect(await redis.get(K.dedup)).toBe(entries[0][0]);
      expect(await redis.get(K.guard)).toBe(`${entries[0][0]} 0 ${entries[0][0]} 1`);
    },
  },
  reclaim: {
    given: (redis) => delivered(redis, OTHER, '1-0'),
    keys: [S, K.retries, K.attempts, K.claim],
    args: [G, ME, 0, '-', 10, 60_000],
    reply: (reply) => expect(reply).toEqual(['0', [ENTRY_1], [1], [], [2]]),
    effect: async (redis) => {
      expect(await pendingRow(redis, '1-0')).toEqual([ME, 2]);
      expect(await redis.hget(K.attempts, '1-0')).toBe('1');
      expect(await redis.get(K.claim)).toBe('0 1-0 2');
    },
  },
  'recover-own': {
    // Began far in the future: both entries were delivered by a previous run; 2-0 is held.
    given: (redis) => delivered(redis, ME, '1-0', '2-0'),
    keys: [S, K.retries, K.attempts],
    args: [G, ME, Date.now() + HOUR, '-', 10, '2-0'],
    reply: (reply) => expect(reply).toEqual(['0', [ENTRY_1], [1], [], [2]]),
    effect: async (redis) => {
      expect(await pendingRow(redis, '1-0')).toEqual([ME, 2]);
      expect(await pendingRow(redis, '2-0')).toEqual([ME, 1]);
      expect(await redis.hget(K.attempts, '1-0')).toBe('1');
    },
  },
  'release-event': {
    given: (redis) => redis.set(K.done, 'running:1-0'),
    keys: [K.done],
    args: ['running:1-0'],
    reply: (reply) => expect(reply).toBe(1),
    effect: async (redis) => expect(await redis.exists(K.done)).toBe(0),
  },
  'renew-lease': {
    given: (redis) => redis.set(K.lease, HOLDER, 'PX', 1_000),
    keys: [K.lease],
    args: [HOLDER, HOUR],
    reply: (reply) => expect(reply).toBe(1),
    effect: async (redis) => expect(await redis.pttl(K.lease)).toBeGreaterThan(HOUR - 60_000),
  },
  'replay-dead-letters': {
    given: (redis) => redis.xadd(K.deadLetter, '1-0', 'n', '1-0', 'dlq-reason', 'poison'),
    keys: [K.deadLetter, S],
    args: ['1-0', '9-0'],
    reply: (reply) => {
      const [replayed, missing] = reply as [string, null];
      expect(replayed).toMatch(/^\d+-\d+$/);
      expect(missing).toBeNull();
    },
    effect: async (redis) => {
      expect((await redis.xrange(S, '-', '+')).map(([, fields]) => fields)).toEqual([['n', '1-0']]);
      expect(await redis.xlen(K.deadLetter)).toBe(0);
    },
  },
  'retention-trim': {
    // A cap of 2 over 5 entries, no age limit, no group holding anything back.
    given: async (redis) => {
      for (let i = 1; i <= 5; i++) await redis.xadd(S, `${i}-0`, 'n', i);
    },
    keys: [S],
    args: ['', 2, '', 100],
    reply: (reply) => expect(reply).toEqual([3, 2, '4-0', 0]),
    effect: async (redis) => expect(await redis.xlen(S)).toBe(2),
  },
  'schedule-retry': {
    given: (redis) => delivered(redis, ME, '1-0'),
    keys: [S, K.retries, K.attempts],
    args: [G, ME, 1, '1-0', 12_345, 1],
    reply: (reply) => expect(reply).toBe(1),
    effect: async (redis) => {
      expect(await redis.zscore(K.retries, '1-0')).toBe('12345');
      expect(await redis.hget(K.attempts, '1-0')).toBe('1');
      expect(await pendingRow(redis, '1-0')).toEqual([ME, 1]);
    },
  },
  'server-time': {
    keys: [S],
    args: [],
    reply: (reply) => expect(Math.abs(Number(reply) - Date.now())).toBeLessThan(5_000),
    effect: async (redis) => expect(await redis.dbsize()).toBe(0),
  },
  'still-current': {
    given: (redis) => delivered(redis, ME, '1-0'),
    keys: [S],
    args: [G, ME, 1, '1-0'],
    reply: (reply) => expect(reply).toBe(1),
    effect: async (redis) => expect(await pendingRow(redis, '1-0')).toEqual([ME, 1]),
  },
  'sweep-bookkeeping': {
    // 1-0 is pending and keeps its field; 9-0 is not and loses it.
    given: async (redis) => {
      await delivered(redis, ME, '1-0');
      await redis.hset(K.attempts, '1-0', 1, '9-0', 1);
      await redis.zadd(K.retries, 1, '9-0');
    },
    keys: [S, K.retries, K.attempts],
    args: [G, '0', 100],
    reply: (reply) => expect(reply).toEqual(['0', 1]),
    effect: async (redis) => {
      expect(await redis.hkeys(K.attempts)).toEqual(['1-0']);
      expect(await redis.zcard(K.retries)).toBe(0);
    },
  },
  'take-due-retries': {
    given: async (redis) => {
      await delivered(redis, OTHER, '1-0');
      await redis.zadd(K.retries, 1, '1-0');
      await redis.hset(K.attempts, '1-0', 1);
    },
    keys: [S, K.retries, K.attempts, K.claim],
    args: [G, ME, Date.now(), 10, 60_000],
    reply: (reply) => expect(reply).toEqual([[ENTRY_1], [1], [], [2]]),
    effect: async (redis) => {
      expect(await pendingRow(redis, '1-0')).toEqual([ME, 2]);
      expect(await redis.zcard(K.retries)).toBe(0);
      expect(await redis.get(K.claim)).toBe('0 1-0 2');
    },
  },
  'take-over-pending': {
    given: async (redis) => {
      await delivered(redis, OTHER, '1-0');
      await redis.set(K.lease, HOLDER);
    },
    keys: [S, K.lease],
    args: [G, ME, HOLDER, 10],
    reply: (reply) => expect(reply).toEqual([[ENTRY_1], [1], [], 0]),
    effect: async (redis) => expect(await pendingRow(redis, '1-0')).toEqual([ME, 2]),
  },
};

/** A reply with its Buffers (ioredis's Buffer replies) as strings. */
function text(reply: unknown): unknown {
  if (Buffer.isBuffer(reply)) return reply.toString();
  if (Array.isArray(reply)) return reply.map(text);
  return reply;
}

/** The script's code: its source without the shebang line and comments. */
function code(source: string): string {
  return source
    .replace(/^#!.*\n/, '')
    .replace(/--\[\[[\s\S]*?\]\]/g, '')
    .replace(/--.*$/gm, '');
}

/** Whether the code indexes KEYS (or ARGV) by something other than a number, or counts them. */
function readsAny(source: string, kind: 'KEYS' | 'ARGV'): boolean {
  return new RegExp(`${kind}\\[(?!\\d+\\])|#${kind}\\b|ipairs\\(${kind}\\)`).test(source);
}

/** What is wrong with how the code reads KEYS (or ARGV), compared with the header's slots. */
function headerMisfits(source: string, kind: 'KEYS' | 'ARGV', slots: Slots): string[] {
  const problems: string[] = [];
  const used = new Set(
    [...source.matchAll(new RegExp(`\\b${kind}\\[(\\d+)\\]`, 'g'))].map(([, n]) => Number(n)),
  );
  for (const n of used) {
    if (n > slots.list.length) problems.push(`reads ${kind}[${n}], which the header lacks`);
  }
  const rest = slots.list.some((slot) => slot.rest);
  if (readsAny(source, kind) !== rest) {
    problems.push(
      rest
        ? `declares ${kind}[n...] but reads a fixed number`
        : `reads any number of ${kind} but declares no ${kind}[n...]`,
    );
  }
  // A script that reads no key at all still takes one: it names the node the script runs on.
  const routingOnly = kind === 'KEYS' && used.size === 0 && slots.list.length === 1;
  for (const slot of slots.list) {
    if (!slot.rest && !used.has(slot.index) && !routingOnly) {
      problems.push(`declares ${kind}[${slot.index}] but never reads it`);
    }
  }
  return problems;
}

describe('Lua script files', () => {
  it('every lua/*.lua file is one exported script, and every script has a smoke case', () => {
    const files = readdirSync(LUA_DIR)
      .filter((file) => file.endsWith('.lua'))
      .map((file) => file.slice(0, -'.lua'.length))
      .sort();
    expect([...SCRIPTS.keys()].sort()).toEqual(files);
    expect(Object.keys(CASES).sort()).toEqual(files);
  });

  it.each([...SCRIPTS.keys()])(
    '%s.lua: its header declares what its code reads, and its reply',
    (name) => {
      const script = SCRIPTS.get(name)!;
      const signature = script.signature!;
      const source = code(script.source);
      expect(signature.reply).not.toBe('');
      expect([
        ...headerMisfits(source, 'KEYS', signature.keys),
        ...headerMisfits(source, 'ARGV', signature.args),
      ]).toEqual([]);
      const { keys, args } = CASES[name];
      expect(signature.keys.fits(keys.length) && signature.args.fits(args.length)).toBe(true);
    },
  );

  it('each include goes into a script once, and no code is copied between script files', () => {
    for (const script of SCRIPTS.values()) {
      const functions = [...script.source.matchAll(/^local function (\w+)/gm)].map(([, f]) => f);
      expect({ script: script.name, functions }).toEqual({
        script: script.name,
        functions: [...new Set(functions)],
      });
    }
    // Four code lines in a row (not counting `end`, `else` and blank lines) found in two files:
    // three still match the common opening of two flow scripts (now, the key, one field).
    const seen = new Map<string, string>();
    const copies: string[] = [];
    for (const name of SCRIPTS.keys()) {
      const lines = code(readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8'))
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => !['', 'end', 'end)', 'else'].includes(line));
      for (let i = 0; i + 4 <= lines.length; i++) {
        const window = lines.slice(i, i + 4).join('\n');
        const first = seen.get(window);
        if (first !== undefined && first !== name) copies.push(`${first} and ${name}:\n${window}`);
        if (first === undefined) seen.set(window, name);
      }
    }
    expect(copies).toEqual([]);
  });

  it('a call with more or fewer keys or arguments than the header declares is refused', async () => {
    const { ACK } = groupSettlement;
    const redis = undefined as unknown as Redis;
    await expect(ACK.run(redis, [S, K.retries], [G, '1-0'])).rejects.toThrow(
      'Lua script ack called with 2 keys and 2 arguments; its header declares KEYS 3 to 4 and ARGV 2 to 3',
    );
    const pipeline = {} as ChainableCommander;
    expect(() => ACK.queue(pipeline, [S, K.retries, K.attempts], [G])).toThrow(RangeError);
  });
});

describe('the Lua loader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lua-loader-'));
  const includes = join(dir, 'includes');
  mkdirSync(includes);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const expandFile = (script: string, files: Record<string, string> = {}): string => {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(includes, name), text);
    writeFileSync(join(dir, 'script.lua'), script);
    return expandLua(pathToFileURL(join(dir, 'script.lua')), pathToFileURL(`${includes}/`));
  };

  it('puts each include in place once, also when an include includes it too', () => {
    const source = expandFile('--- @include "b"\n--- @include "a"\nreturn b()\n', {
      'a.lua': 'local function a() return 1 end\n',
      'b.lua': '--- @include "a"\nlocal function b() return a() end\n',
    });
    expect(source).toBe(
      'local function a() return 1 end\nlocal function b() return a() end\nreturn b()\n',
    );
  });

  it('names the file that asks for a missing include', () => {
    expect(() => expandFile('--- @include "a"\n', { 'a.lua': '--- @include "nowhere"\n' })).toThrow(
      `includes/a.lua includes "nowhere", but there is no ${join(includes, 'nowhere.lua')}`,
    );
  });

  it('refuses a malformed include line and an include cycle', () => {
    expect(() => expandFile('--- @include a\n')).toThrow(
      'script.lua: malformed include "--- @include a"',
    );
    expect(() =>
      expandFile('--- @include "c"\n', {
        'c.lua': '--- @include "d"\n',
        'd.lua': '--- @include "c"\n',
      }),
    ).toThrow('includes/d.lua: include cycle c -> d -> c');
  });
});

describe('Lua scripts against a real redis-server', () => {
  const bed = new RedisTestbed({ appendOnly: false });
  const dir = mkdtempSync(join(tmpdir(), 'lua-scripts-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(Object.keys(CASES))('redis-cli --eval <expanded %s.lua> works', async (name) => {
    const { given, keys, args, effect } = CASES[name];
    const file = join(dir, `${name}.lua`);
    writeFileSync(file, SCRIPTS.get(name)!.source);
    await given?.(bed.client);
    const cli = ['-e', '--no-raw', '-p', String(bed.redis.port), '--eval', file, ...keys];
    if (args.length > 0) cli.push(',', ...args.map(String));
    const { stdout } = await run('redis-cli', cli, { timeout: 10_000 });
    expect(stdout).not.toMatch(/^\(error\)/m);
    await effect(bed.client);
  });

  it.each(Object.keys(CASES))('%s: one call through the script object', async (name) => {
    const { given, keys, args, reply, effect } = CASES[name];
    await given?.(bed.client);
    reply(text(await SCRIPTS.get(name)!.run(bed.client, keys, args)));
    await effect(bed.client);
  });
});
