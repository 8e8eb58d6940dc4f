import type { Redis } from 'ioredis';
import { existsSync } from 'node:fs';
import { TestRedis, freePort } from '@redis-streams-alerts/nestjs-redis-streams/testing';
import { WebhookReceiver } from '../test/support/webhook-receiver.js';
import { startChild, stopChild } from './children.js';
import type { BenchConfig } from './config.js';
import { repeat, sleep, until, type Spread } from './stats.js';
import { ALERT } from './streams.js';

const SERVICE = 'dist/main.js';
const STREAM = 'alerts';
const GROUPS = ['alerts-recorder', 'alerts-webhook'];
/** Alerts through the service before the first reading: groups made, scripts cached. */
const WARM_UP_ALERTS = 20;
const POSTS_IN_FLIGHT = 20;
/** Keys that expire sooner than this are transient (gone at steady state), reported apart. */
const TRANSIENT_TTL_MS = 10 * 60 * 1_000;
/** Keys of each kind whose MEMORY USAGE is read, to average. */
const SAMPLE_KEYS = 50;

/** How the alerts are posted: each with its own Idempotency-Key, or without (generated eventIds). */
export const MEMORY_VARIANTS = ['Idempotency-Key', 'generated eventId'] as const;
export type MemoryVariant = (typeof MEMORY_VARIANTS)[number];

/** The figure that docs/operations.md (Memory sizing) quotes and the 700 B goal is about. */
export const PER_ALERT = 'B per alert at steady state';

/** Keys the service keeps per alert, by name; everything else is shared and bounded. */
const PER_ALERT_KINDS: Array<[string, RegExp]> = [
  ['alert record', /^alerts:(record|r):/],
  ['done marker', /^alerts:(done|d):/],
  ['dedup key', /^alerts:(dedup|k):/],
];

/**
 * Redis memory per alert at steady state: a fresh redis-server and the built service (recorder
 * and webhook groups, webhook to a local receiver); N alerts posted over HTTP; once both groups
 * have handled all of them, used_memory growth / N and MEMORY USAGE of a sample of each kind of
 * key. Transient keys (TTL under 10 min, e.g. a resend guard) are measured, then deleted before
 * the final reading, as they would be gone at steady state.
 */
export async function benchRedisMemory(config: BenchConfig): Promise<Record<string, Spread>> {
  if (!existsSync(SERVICE)) throw new Error(`${SERVICE} is missing: run npm run build first`);
  return repeat<string>(config.runs, async () => {
    const figures: Record<string, number> = {};
    for (const variant of MEMORY_VARIANTS) {
      for (const [name, value] of Object.entries(await measure(config, variant))) {
        figures[`${variant}: ${name}`] = value;
      }
    }
    return figures;
  });
}

async function measure(
  config: BenchConfig,
  variant: MemoryVariant,
): Promise<Record<string, number>> {
  const redis = await TestRedis.start();
  const receiver = await WebhookReceiver.start();
  const client = redis.client();
  const port = await freePort();
  const service = startChild(SERVICE, {
    PORT: String(port),
    REDIS_URL: redis.url,
    LOG_LEVEL: 'warn',
    CONSUMER_NAME: 'bench-memory',
    ALERTS_WEBHOOK_URL: receiver.url,
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await until(() => ready(url), 30_000, 'the service to be ready');
    let posted = 0;
    const post = async (count: number) => {
      const from = posted;
      posted += count;
      await postAlerts(url, variant, from, count);
      await until(
        () => handled(client, receiver, posted),
        Math.max(60_000, count * 20),
        `${posted} alerts handled`,
      );
      // Acknowledgements go out in batches: let the last one land.
      await sleep(500);
    };
    await post(WARM_UP_ALERTS);
    const before = await usedMemory(client);
    const sharedBefore = await sharedKeysBytes(client);
    const n = config.redisMemoryAlerts;
    await post(n);
    const figures: Record<string, number> = {};
    const transient = await transientKeys(client);
    figures['transient keys per alert'] = transient.keys.length / n;
    figures['transient B per alert'] = transient.bytes / n;
    if (transient.keys.length > 0) await client.unlink(...transient.keys);
    const growth = (await usedMemory(client)) - before;
    const shared = (await sharedKeysBytes(client)) - sharedBefore;
    figures['used_memory growth B per alert'] = growth / n;
    figures['of which shared, bounded keys B per alert'] = shared / n;
    figures[PER_ALERT] = (growth - shared) / n;
    const entries = await client.xlen(STREAM);
    figures['stream entry B (MEMORY USAGE)'] = (await memoryUsage(client, STREAM)) / entries;
    for (const [kind, count, bytes] of await perAlertKeys(client)) {
      figures[`${kind} B (MEMORY USAGE)`] = bytes;
      figures[`${kind}s per alert`] = count / (n + WARM_UP_ALERTS);
    }
    // What each kind really costs, with its share of Redis's key tables: the memory freed by
    // deleting them all (last: it empties the data set).
    for (const [kind, freed] of await freedByKind(client)) figures[`${kind} B (freed)`] = freed;
    return figures;
  } finally {
    await stopChild(service);
    client.disconnect();
    await receiver.close();
    await redis.close();
  }
}

async function postAlerts(
  url: string,
  variant: MemoryVariant,
  from: number,
  count: number,
): Promise<void> {
  let next = from;
  const end = from + count;
  const worker = async () => {
    while (next < end) {
      const i = next++;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (variant === 'Idempotency-Key') headers['idempotency-key'] = `bench-alert-${i}`;
      const response = await fetch(`${url}/alerts`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ ...ALERT, message: `${ALERT.message} #${i}` }),
      });
      await response.body?.cancel();
      if (response.status !== 202) throw new Error(`POST /alerts answered ${response.status}`);
    }
  };
  await Promise.all(Array.from({ length: POSTS_IN_FLIGHT }, worker));
}

/** Both groups have read and acknowledged everything, and the receiver has every alert. */
async function handled(redis: Redis, receiver: WebhookReceiver, posted: number): Promise<boolean> {
  if (receiver.deliveries.length < posted) return false;
  const length = await redis.xlen(STREAM);
  const groups = (await redis.xinfo('GROUPS', STREAM)) as unknown[][];
  const done = GROUPS.every((name) => {
    const group = groups.find((g) => field(g, 'name') === name);
    return (
      group !== undefined &&
      field(group, 'pending') === 0 &&
      field(group, 'entries-read') === length
    );
  });
  if (!done) await sleep(50);
  return done;
}

function field(reply: unknown[], name: string): unknown {
  const at = reply.indexOf(name);
  return at >= 0 ? reply[at + 1] : undefined;
}

async function ready(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health/ready`);
    await response.body?.cancel();
    return response.ok;
  } catch {
    await sleep(100);
    return false;
  }
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
}

async function memoryUsage(redis: Redis, key: string): Promise<number> {
  return Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
}

async function allKeys(redis: Redis): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'COUNT', 1_000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

async function transientKeys(redis: Redis): Promise<{ keys: string[]; bytes: number }> {
  const keys: string[] = [];
  let bytes = 0;
  for (const key of await allKeys(redis)) {
    const ttl = await redis.pttl(key);
    if (ttl > 0 && ttl < TRANSIENT_TTL_MS) {
      keys.push(key);
      bytes += await memoryUsage(redis, key);
    }
  }
  return { keys, bytes };
}

/**
 * MEMORY USAGE of the keys that are not per alert (the index of recent alerts, at most 1,000
 * entries; group bookkeeping): their growth is not what each further alert costs.
 */
async function sharedKeysBytes(redis: Redis): Promise<number> {
  let bytes = 0;
  for (const key of await allKeys(redis)) {
    if (key === STREAM || PER_ALERT_KINDS.some(([, pattern]) => pattern.test(key))) continue;
    bytes += await memoryUsage(redis, key);
  }
  return bytes;
}

/** For each kind of per-alert key and the stream: used_memory freed by deleting them, per key (per entry). */
async function freedByKind(redis: Redis): Promise<Array<[string, number]>> {
  const keys = await allKeys(redis);
  const freed: Array<[string, number]> = [];
  const kinds: Array<[string, string[], number]> = PER_ALERT_KINDS.map(([kind, pattern]) => {
    const matching = keys.filter((key) => pattern.test(key));
    return [kind, matching, matching.length];
  });
  kinds.push(['stream entry', [STREAM], await redis.xlen(STREAM)]);
  for (const [kind, matching, count] of kinds) {
    if (count === 0) continue;
    const before = await usedMemory(redis);
    for (let i = 0; i < matching.length; i += 1_000)
      await redis.del(...matching.slice(i, i + 1_000));
    freed.push([kind, (before - (await usedMemory(redis))) / count]);
  }
  return freed;
}

/** For each kind of per-alert key: [kind, how many, mean MEMORY USAGE of a sample]. */
async function perAlertKeys(redis: Redis): Promise<Array<[string, number, number]>> {
  const keys = await allKeys(redis);
  const kinds: Array<[string, number, number]> = [];
  for (const [kind, pattern] of PER_ALERT_KINDS) {
    const matching = keys.filter((key) => pattern.test(key));
    if (matching.length === 0) continue;
    const sample = matching.slice(0, SAMPLE_KEYS);
    let bytes = 0;
    for (const key of sample) bytes += await memoryUsage(redis, key);
    kinds.push([kind, matching.length, bytes / sample.length]);
  }
  return kinds;
}
