import { Injectable } from '@nestjs/common';
import { DLQ_FIELD } from './redis-streams.constants.js';
import { RedisConnections } from './redis-connections.js';
import { RedisStreamsStatus } from './redis-streams.status.js';
import { compareStreamIds, STREAM_ID_PATTERN } from './stream-id.js';
import { streamKeys } from './stream-keys.js';
import { REPLAY_DEAD_LETTERS } from './stream-scripts.js';

export interface ConsumerInfo {
  name: string;
  pending: number;
  idleMs: number;
}

export interface GroupInfo {
  name: string;
  consumers: ConsumerInfo[];
  pending: number;
  /** Entries not yet delivered to the group; null when Redis cannot tell (after deletions). */
  lag: number | null;
  lastDeliveredId: string;
  /** Age of the oldest pending entry, from its id's time; null when nothing is pending. */
  oldestPendingAgeMs: number | null;
}

export interface StreamInfo {
  stream: string;
  length: number;
  firstId: string | null;
  lastId: string | null;
  groups: GroupInfo[];
  deadLetter: { stream: string; length: number };
}

export interface PendingEntry {
  id: string;
  consumer: string;
  idleMs: number;
  deliveries: number;
}

export interface DeadLetter {
  /** Id in the dead-letter stream. */
  id: string;
  originalId: string;
  eventId: string;
  group: string;
  consumer: string;
  error: string;
  attempts: number;
  failedAt: string;
  /** The original fields, without the dlq-* ones. */
  fields: Record<string, string>;
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` to get the next page; absent on the last page. */
  next?: string;
}

export interface DeadLetterFilter {
  group?: string;
  /** Case-insensitive substring of the error. */
  errorContains?: string;
}

export interface ReplayResult {
  replayed: Array<{ deadLetterId: string; newId: string }>;
  /** Ids that were not (or no longer) in the dead-letter stream. */
  missing: string[];
}

/** A stream that is not one this service handles: never read or written on behalf of a caller. */
export class UnknownStreamError extends Error {
  constructor(stream: string) {
    super(`Unknown stream "${stream.slice(0, 200)}"`);
    this.name = 'UnknownStreamError';
  }
}

const MAX_PAGE = 500;
const REPLAY_CHUNK = 100;

/**
 * Read and repair what the streams hold, for operators (admin API, dashboard, CLI) and metrics:
 * groups with lag and pending, pending entries, dead letters with replay and deletion. Only streams
 * that some `@StreamHandler` consumes can be named; every list is bounded and paginated.
 */
@Injectable()
export class StreamInspector {
  constructor(
    private readonly connections: RedisConnections,
    private readonly status: RedisStreamsStatus,
  ) {}

  /** The streams this service handles (dead-letter streams included when something handles them). */
  knownStreams(): string[] {
    return [...new Set(this.status.handlers().map((h) => h.stream))].sort();
  }

  async streams(): Promise<StreamInfo[]> {
    return Promise.all(this.knownStreams().map((stream) => this.stream(stream)));
  }

  async stream(stream: string): Promise<StreamInfo> {
    this.assertKnown(stream);
    const redis = this.connections.command;
    const deadLetterStream = streamKeys.deadLetter(stream);
    const [length, first, last, dlqLength] = await Promise.all([
      redis.xlen(stream),
      redis.xrange(stream, '-', '+', 'COUNT', 1),
      redis.xrevrange(stream, '+', '-', 'COUNT', 1),
      redis.xlen(deadLetterStream),
    ]);
    const groups = length > 0 || (await redis.exists(stream)) ? await this.groups(stream) : [];
    return {
      stream,
      length,
      firstId: first[0]?.[0] ?? null,
      lastId: last[0]?.[0] ?? null,
      groups,
      deadLetter: { stream: deadLetterStream, length: dlqLength },
    };
  }

  async pending(
    stream: string,
    group: string,
    cursor = '-',
    count = 50,
  ): Promise<Page<PendingEntry>> {
    this.assertKnown(stream);
    const size = pageSize(count);
    const start = cursor === '-' ? '-' : `(${assertId(cursor)}`;
    const rows = (await this.connections.command.xpending(
      stream,
      group,
      start,
      '+',
      size + 1,
    )) as Array<[string, string, number, number]>;
    const items = rows.slice(0, size).map(([id, consumer, idleMs, deliveries]) => ({
      id,
      consumer,
      idleMs: Number(idleMs),
      deliveries: Number(deliveries),
    }));
    return { items, next: rows.length > size ? items[items.length - 1].id : undefined };
  }

  /** Dead letters of a stream, newest first. */
  async deadLetters(
    stream: string,
    cursor = '+',
    count = 50,
    filter: DeadLetterFilter = {},
  ): Promise<Page<DeadLetter>> {
    this.assertKnown(stream);
    const size = pageSize(count);
    const redis = this.connections.command;
    const items: DeadLetter[] = [];
    let end = cursor === '+' ? '+' : `(${assertId(cursor)}`;
    // A filter may skip many entries: scan in bounded steps, at most a few pages' worth.
    for (let scanned = 0; items.length < size && scanned < size * 20;) {
      const rows = (await redis.xrevrange(
        streamKeys.deadLetter(stream),
        end,
        '-',
        'COUNT',
        size,
      )) as Array<[string, string[]]>;
      if (rows.length === 0) return { items };
      scanned += rows.length;
      for (const [id, flat] of rows) {
        const letter = toDeadLetter(id, flat);
        if (matches(letter, filter) && items.length < size) items.push(letter);
        end = `(${id}`;
      }
      if (rows.length < size)
        return { items, next: items.length === size ? items[size - 1].id : undefined };
    }
    return { items, next: end.slice(1) };
  }

  /** Replays the given dead letters to their stream; each is appended once however often this runs. */
  async replay(stream: string, ids: string[]): Promise<ReplayResult> {
    this.assertKnown(stream);
    const result: ReplayResult = { replayed: [], missing: [] };
    const unique = [...new Set(ids.map(assertId))];
    for (let i = 0; i < unique.length; i += REPLAY_CHUNK) {
      const chunk = unique.slice(i, i + REPLAY_CHUNK);
      const newIds = await REPLAY_DEAD_LETTERS.run<Array<Buffer | null>>(
        this.connections.command,
        [streamKeys.deadLetter(stream), stream],
        chunk,
      );
      chunk.forEach((id, j) => {
        const newId = newIds[j];
        if (newId) result.replayed.push({ deadLetterId: id, newId: newId.toString() });
        else result.missing.push(id);
      });
    }
    return result;
  }

  /** Replays every dead letter that matches the filter, oldest first, at most `limit` of them. */
  async replayMatching(
    stream: string,
    filter: DeadLetterFilter,
    limit = 1_000,
  ): Promise<ReplayResult> {
    const ids: string[] = [];
    let cursor: string | undefined = '+';
    while (cursor && ids.length < limit) {
      const page: Page<DeadLetter> = await this.deadLetters(stream, cursor, MAX_PAGE, filter);
      ids.push(...page.items.map((letter) => letter.id));
      cursor = page.next;
    }
    return this.replay(stream, ids.slice(0, limit).sort(compareStreamIds));
  }

  async deleteDeadLetters(stream: string, ids: string[]): Promise<number> {
    this.assertKnown(stream);
    if (ids.length === 0) return 0;
    return this.connections.command.xdel(streamKeys.deadLetter(stream), ...ids.map(assertId));
  }

  private async groups(stream: string): Promise<GroupInfo[]> {
    const redis = this.connections.command;
    const raw = (await redis.xinfo('GROUPS', stream)) as unknown[][];
    return Promise.all(
      raw.map(async (flat) => {
        const info = toRecord(flat);
        const name = String(info.name);
        const pending = Number(info.pending);
        const [consumersRaw, summary] = await Promise.all([
          redis.xinfo('CONSUMERS', stream, name) as Promise<unknown[][]>,
          pending > 0
            ? (redis.xpending(stream, name) as Promise<[number, string | null, ...unknown[]]>)
            : Promise.resolve(null),
        ]);
        const oldest = summary?.[1] ?? null;
        return {
          name,
          consumers: consumersRaw.map((c) => {
            const consumer = toRecord(c);
            return {
              name: String(consumer.name),
              pending: Number(consumer.pending),
              idleMs: Number(consumer.idle),
            };
          }),
          pending,
          lag: info.lag === null || info.lag === undefined ? null : Number(info.lag),
          lastDeliveredId: String(info['last-delivered-id']),
          oldestPendingAgeMs: oldest
            ? Math.max(0, Date.now() - Number(oldest.split('-')[0]))
            : null,
        };
      }),
    );
  }

  private assertKnown(stream: string): void {
    if (!this.knownStreams().includes(stream)) throw new UnknownStreamError(stream);
  }
}

function toDeadLetter(id: string, flat: string[]): DeadLetter {
  const all = toRecord(flat) as Record<string, string>;
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(all))
    if (!name.startsWith('dlq-')) fields[name] = value;
  const originalId = all[DLQ_FIELD.originalId] ?? '';
  return {
    id,
    originalId,
    eventId: all.eventId ?? originalId,
    group: all[DLQ_FIELD.group] ?? '',
    consumer: all[DLQ_FIELD.consumer] ?? '',
    error: all[DLQ_FIELD.error] ?? '',
    attempts: Number(all[DLQ_FIELD.attempts] ?? 0),
    failedAt: all[DLQ_FIELD.failedAt] ?? '',
    fields,
  };
}

function matches(letter: DeadLetter, filter: DeadLetterFilter): boolean {
  if (filter.group && letter.group !== filter.group) return false;
  if (
    filter.errorContains &&
    !letter.error.toLowerCase().includes(filter.errorContains.toLowerCase())
  ) {
    return false;
  }
  return true;
}

function pageSize(count: number): number {
  if (!Number.isInteger(count) || count < 1)
    throw new RangeError('count must be a positive integer');
  return Math.min(count, MAX_PAGE);
}

function assertId(id: string): string {
  if (!STREAM_ID_PATTERN.test(id))
    throw new RangeError(`"${id.slice(0, 50)}" is not a stream entry id`);
  return id;
}

function toRecord(flat: unknown[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = flat[i + 1];
  return record;
}
