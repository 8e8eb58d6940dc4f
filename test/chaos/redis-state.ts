import type { Redis } from 'ioredis';
import { toRecord } from '../faults/fault-lab.js';

/** One pending entry of a group. */
export interface PendingEntry {
  id: string;
  consumer: string;
  idleMs: number;
  deliveries: number;
}

export interface GroupState {
  stream: string;
  group: string;
  pending: number;
  /** The oldest pending entries (at most PENDING_SHOWN). */
  pendingEntries: PendingEntry[];
  lastDeliveredId: string;
  /** The group has not read up to the end of its stream. */
  behind: boolean;
}

/** One entry of a dead-letter stream. */
export interface DeadLetterEntry {
  /** The dead-letter stream it is in. */
  deadLetterStream: string;
  id: string;
  /** When it was written: the time part of its entry id (Redis's clock). */
  at: number;
  stream: string;
  group: string;
  consumer: string;
  originalId: string;
  /** The original entry's eventId field, or its id for producers that wrote none. */
  eventId: string;
  reason: string;
  attempts: number;
}

/** What is left in Redis: what the invariants about the end state read. */
export interface RedisState {
  takenAt: number;
  /** Length of each stream of the run (absent: no such key). */
  lengths: Record<string, number>;
  groups: GroupState[];
  deadLetters: DeadLetterEntry[];
  /** Non-empty retries sorted sets (`*:retries:*`), with their members. */
  retries: Record<string, string[]>;
  /** Non-empty attempts hashes (`*:attempts:*`), with their fields. */
  attempts: Record<string, Record<string, string>>;
  /** Idempotency markers still saying `running:<entry id>` (`*:done:*`): leases of unfinished work. */
  runningMarkers: Record<string, string>;
  /** Ordered partition leases (`*:lease:*`) and their holder. */
  leases: Record<string, string>;
  /** Ordered groups' members whose membership has not expired (`*:members:*`). */
  members: Record<string, string[]>;
}

const PENDING_SHOWN = 50;

/** The streams of a run: the alerts stream and each ordered partition, with their dead letters. */
export function streamsOf(alerts: string, ordered: string, partitions: number): string[] {
  const streams = [alerts];
  for (let p = 0; p < partitions; p++) streams.push(`${ordered}:{${p}}`);
  return streams.flatMap((stream) => [stream, `${stream}:dlq`]);
}

/** Reads the state of every stream in `streams` and of the bookkeeping keys beside them. */
export async function readRedisState(
  redis: Redis,
  streams: string[],
  options: { markers?: boolean } = {},
): Promise<RedisState> {
  const state: RedisState = {
    takenAt: Date.now(),
    lengths: {},
    groups: [],
    deadLetters: [],
    retries: {},
    attempts: {},
    runningMarkers: {},
    leases: {},
    members: {},
  };
  for (const stream of streams) {
    if ((await redis.exists(stream)) === 0) continue;
    const info = toRecord((await redis.xinfo('STREAM', stream)) as unknown[]);
    state.lengths[stream] = Number(info.length);
    const lastGenerated = String(info['last-generated-id']);
    for (const flat of (await redis.xinfo('GROUPS', stream)) as unknown[][]) {
      const group = toRecord(flat);
      const name = String(group.name);
      const rows = (await redis.xpending(stream, name, '-', '+', PENDING_SHOWN)) as Array<
        [string, string, number, number]
      >;
      state.groups.push({
        stream,
        group: name,
        pending: Number(group.pending),
        pendingEntries: rows.map(([id, consumer, idleMs, deliveries]) => ({
          id,
          consumer,
          idleMs: Number(idleMs),
          deliveries: Number(deliveries),
        })),
        lastDeliveredId: String(group['last-delivered-id']),
        behind: String(group['last-delivered-id']) !== lastGenerated,
      });
    }
    if (stream.endsWith(':dlq')) state.deadLetters.push(...(await readDeadLetters(redis, stream)));
  }
  for (const key of await scanKeys(redis, '*:retries:*')) {
    const members = await redis.zrange(key, '0', '-1');
    if (members.length > 0) state.retries[key] = members;
  }
  for (const key of await scanKeys(redis, '*:attempts:*')) {
    const fields = await redis.hgetall(key);
    if (Object.keys(fields).length > 0) state.attempts[key] = fields;
  }
  for (const key of await scanKeys(redis, '*:lease:*')) {
    const holder = await redis.get(key);
    if (holder !== null) state.leases[key] = holder;
  }
  for (const key of await scanKeys(redis, '*:members:*')) {
    // Scored by expiry: only members whose membership has not lapsed count as present.
    const members = await redis.zrangebyscore(key, `(${Date.now()}`, '+inf');
    if (members.length > 0) state.members[key] = members;
  }
  if (options.markers) {
    const keys = await scanKeys(redis, '*:done:*');
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const values = await redis.mget(...chunk);
      values.forEach((value, j) => {
        if (value?.startsWith('running:')) state.runningMarkers[chunk[j]] = value;
      });
    }
  }
  return state;
}

/** Every dead letter of one dead-letter stream, oldest first. */
export async function readDeadLetters(redis: Redis, stream: string): Promise<DeadLetterEntry[]> {
  const entries = (await redis.xrange(stream, '-', '+')) as Array<[string, string[]]>;
  return entries.map(([id, flat]) => {
    const fields = toRecord(flat);
    const originalId = String(fields['dlq-original-id'] ?? '');
    return {
      deadLetterStream: stream,
      id,
      at: Number(id.split('-')[0]),
      stream: String(fields['dlq-stream'] ?? ''),
      group: String(fields['dlq-group'] ?? ''),
      consumer: String(fields['dlq-consumer'] ?? ''),
      originalId,
      eventId: String(fields.eventId ?? originalId),
      reason: String(fields['dlq-error'] ?? ''),
      attempts: Number(fields['dlq-attempts'] ?? 0),
    };
  });
}

/** The eventId of each entry of `stream` still in it, by entry id (for the evidence of a loss). */
export async function readEventIds(redis: Redis, stream: string): Promise<Map<string, string>> {
  const entries = (await redis.xrange(stream, '-', '+')) as Array<[string, string[]]>;
  return new Map(entries.map(([id, flat]) => [id, String(toRecord(flat).eventId ?? id)]));
}

async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return [...new Set(keys)];
}

/** Whether Redis has nothing left to do: no pending entry, unread entry or scheduled retry. */
export function isIdle(state: RedisState): boolean {
  return (
    state.groups.every((group) => group.pending === 0 && !group.behind) &&
    Object.keys(state.retries).length === 0
  );
}
