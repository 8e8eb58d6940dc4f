import { Injectable } from '@nestjs/common';
import { DLQ_FIELD, INSPECTION } from '../redis-streams.constants.js';
import { RedisConnections } from '../redis/redis-connections.js';
import { RedisStreamsStatus } from '../redis-streams.status.js';
import { assertStreamId } from '../stream-id.js';
import { streamKeys } from '../stream-keys.js';

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

/** A stream that is not one this service handles: never read or written on behalf of a caller. */
export class UnknownStreamError extends Error {
  constructor(stream: string) {
    super(`Unknown stream "${stream.slice(0, 200)}"`);
    this.name = 'UnknownStreamError';
  }
}

/**
 * Read what the streams hold, for operators (admin API, dashboard, CLI) and metrics: groups with
 * lag and pending, pending entries, dead letters. It changes nothing (`DeadLetters` replays and
 * deletes). Only streams that some `@StreamHandler` consumes can be named; every list is bounded
 * and paginated.
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
    const start = cursor === '-' ? '-' : `(${assertStreamId(cursor)}`;
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
    let end = cursor === '+' ? '+' : `(${assertStreamId(cursor)}`;
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

  /** Throws `UnknownStreamError` for a stream no handler consumes. */
  assertKnown(stream: string): void {
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
  return Math.min(count, INSPECTION.maxPage);
}

function toRecord(flat: unknown[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = flat[i + 1];
  return record;
}
