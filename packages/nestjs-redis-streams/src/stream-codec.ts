import { DLQ_FIELD, FIELD } from './redis-streams.constants.js';
import { NonRetryableError } from './errors/non-retryable.error.js';
import { isValidEventId } from './stream-keys.js';

/**
 * A stream entry as read from Redis. Values are text when they were valid UTF-8 (the fast path:
 * read as strings), bytes otherwise, so nothing is lost on the way to a dead letter.
 */
export interface RawEntry {
  id: string;
  /** Field names and values in turn, as Redis returns them: `[name, value, name, value, ...]`. */
  fields: Array<string | Buffer>;
}

export interface DecodedEntry {
  eventId: string;
  payload: unknown;
  fields: Record<string, string>;
}

/** Fields with a meaning of their own; they are never part of a flat payload. */
const RESERVED = new Set<string>([
  FIELD.eventId,
  FIELD.payload,
  FIELD.publishedAt,
  'traceparent',
  'tracestate',
]);
const MAX_EVENT_ID_LENGTH = 200;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Encodes a payload as the publisher writes it: eventId, payload (JSON) and publishedAt. */
export function encodeEntry(
  eventId: string,
  payload: unknown,
  now = Date.now(),
  extraFields: string[] = [],
): string[] {
  const json = JSON.stringify(payload);
  if (json === undefined) throw new TypeError('payload is not serialisable as JSON');
  return [
    FIELD.eventId,
    eventId,
    FIELD.payload,
    json,
    FIELD.publishedAt,
    String(now),
    ...extraFields,
  ];
}

/**
 * Decodes an entry. Entries from the publisher carry a JSON `payload` field; entries from other
 * producers (`XADD alerts * message "..."`) carry flat fields, which become the payload object.
 * Anything that can never be handled throws NonRetryableError with the reason.
 */
export function decodeEntry(entry: RawEntry, maxValueBytes: number, raw = false): DecodedEntry {
  if (raw) return decodeRaw(entry);
  const fields: Record<string, string> = {};
  const flatFields = entry.fields;
  for (let i = 0; i + 1 < flatFields.length; i += 2) {
    const name = flatFields[i].toString();
    const value = flatFields[i + 1];
    // A string has at most 3 bytes per UTF-16 unit: count the bytes only when that could be over.
    const bytes =
      typeof value === 'string' && value.length * 3 <= maxValueBytes ? 0 : Buffer.byteLength(value);
    if (bytes > maxValueBytes) {
      throw new NonRetryableError(
        `field "${name}" is ${bytes} bytes, over the limit of ${maxValueBytes}`,
      );
    }
    if (typeof value === 'string') {
      fields[name] = value;
      continue;
    }
    try {
      fields[name] = utf8.decode(value);
    } catch {
      throw new NonRetryableError(`field "${name}" is not valid UTF-8 text`);
    }
  }

  const eventId = fields[FIELD.eventId] ?? entry.id;
  if (!isValidEventId(eventId)) {
    throw new NonRetryableError(
      `eventId must be 1 to ${MAX_EVENT_ID_LENGTH} printable ASCII characters without spaces`,
    );
  }

  if (FIELD.payload in fields) {
    try {
      return { eventId, payload: JSON.parse(fields[FIELD.payload]) as unknown, fields };
    } catch (error) {
      throw new NonRetryableError(`payload field is not valid JSON: ${(error as Error).message}`);
    }
  }

  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (!RESERVED.has(name)) flat[name] = value;
  }
  if (Object.keys(flat).length === 0) throw new NonRetryableError('entry has no payload fields');
  return { eventId, payload: flat, fields };
}

/**
 * For handlers that want the fields as they are (dead-letter readers, tools): never fails, invalid
 * UTF-8 is replaced, and the payload is the fields themselves.
 */
function decodeRaw(entry: RawEntry): DecodedEntry {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < entry.fields.length; i += 2) {
    fields[entry.fields[i].toString()] = entry.fields[i + 1].toString();
  }
  const eventId = isValidEventId(fields[FIELD.eventId] ?? '') ? fields[FIELD.eventId] : entry.id;
  return { eventId, payload: { ...fields }, fields };
}

/**
 * Turns a reply entry `[id, [field, value, ...]]` read as strings into a RawEntry, keeping the
 * reply's own array; null when the entry was deleted. See `mayHaveLostBytes` before using it.
 */
export function fromTextReply(reply: unknown): RawEntry | null {
  const [id, fields] = reply as [string, string[] | null];
  return fields ? { id, fields } : null;
}

/**
 * ioredis turns bytes that are not UTF-8 into U+FFFD when it reads text, so an entry with a value
 * holding that character must be read again as bytes (`toRawEntry` on a read as Buffers) before it
 * is decoded or dead-lettered, or its original bytes would be lost.
 */
export function mayHaveLostBytes(entry: RawEntry): boolean {
  for (let i = 1; i < entry.fields.length; i += 2) {
    const value = entry.fields[i];
    if (typeof value === 'string' && value.includes('\uFFFD')) return true;
  }
  return false;
}

/** Turns a reply entry `[id, [field, value, ...]]` (values as Buffers) into a RawEntry; null when the entry was deleted. */
export function toRawEntry(reply: unknown): RawEntry | null {
  const [id, flat] = reply as [Buffer | string, Array<Buffer | string> | null];
  if (!flat) return null;
  const fields: Array<string | Buffer> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    fields.push(
      flat[i].toString(),
      Buffer.isBuffer(flat[i + 1]) ? (flat[i + 1] as Buffer) : Buffer.from(flat[i + 1]),
    );
  }
  return { id: id.toString(), fields };
}

const DLQ_NAMES = new Set<string>(Object.values(DLQ_FIELD));
const MAX_REASON_LENGTH = 2_000;

/**
 * The fields of an entry's dead letter: its own fields byte for byte (without `dlq-*` ones left
 * from an earlier failure), then why and where it failed.
 */
export function deadLetterFields(
  entry: RawEntry,
  failure: { reason: string; attempt: number; group: string; consumer: string; stream: string },
): Array<string | Buffer> {
  const fields: Array<string | Buffer> = [];
  for (let i = 0; i + 1 < entry.fields.length; i += 2) {
    if (!DLQ_NAMES.has(entry.fields[i].toString()))
      fields.push(entry.fields[i], entry.fields[i + 1]);
  }
  fields.push(
    DLQ_FIELD.error,
    failure.reason.slice(0, MAX_REASON_LENGTH),
    DLQ_FIELD.attempts,
    String(failure.attempt),
    DLQ_FIELD.group,
    failure.group,
    DLQ_FIELD.consumer,
    failure.consumer,
    DLQ_FIELD.originalId,
    entry.id,
    DLQ_FIELD.stream,
    failure.stream,
    DLQ_FIELD.failedAt,
    new Date().toISOString(),
  );
  return fields;
}
