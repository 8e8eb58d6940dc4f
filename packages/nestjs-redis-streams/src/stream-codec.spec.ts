import { NonRetryableError } from './errors/non-retryable.error.js';
import {
  decodeEntry,
  encodeEntry,
  fromTextReply,
  mayHaveLostBytes,
  toRawEntry,
} from './stream-codec.js';

const entry = (fields: Record<string, string | Buffer>, id = '1-0') => ({
  id,
  fields: Object.entries(fields).flatMap(([k, v]) => [k, Buffer.isBuffer(v) ? v : Buffer.from(v)]),
});

describe('stream codec', () => {
  it('round-trips what the publisher writes', () => {
    const flat = encodeEntry('evt-1', { message: 'hi', labels: { a: 'b' } }, 42);
    expect(flat).toEqual([
      'eventId',
      'evt-1',
      'payload',
      '{"message":"hi","labels":{"a":"b"}}',
      'publishedAt',
      '42',
    ]);
    const pairs: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) pairs[flat[i]] = flat[i + 1];
    expect(decodeEntry(entry(pairs), 1024)).toEqual({
      eventId: 'evt-1',
      payload: { message: 'hi', labels: { a: 'b' } },
      fields: pairs,
    });
  });

  it('turns flat fields into the payload and uses the entry id as eventId', () => {
    const decoded = decodeEntry(
      entry({ message: 'Server down', severity: 'critical' }, '7-1'),
      1024,
    );
    expect(decoded.eventId).toBe('7-1');
    expect(decoded.payload).toEqual({ message: 'Server down', severity: 'critical' });
  });

  it.each([
    [{ payload: '{oops' }, /not valid JSON/],
    [{ eventId: 'x' }, /no payload fields/],
    [{ message: Buffer.from([0xc3, 0x28]) }, /not valid UTF-8/],
    [{ message: 'x'.repeat(11) }, /over the limit of 10/],
    [{ eventId: '', message: 'a' }, /eventId/],
  ])('refuses %j as non-retryable', (fields, reason) => {
    expect(() => decodeEntry(entry(fields as Record<string, string | Buffer>), 10)).toThrow(
      NonRetryableError,
    );
    expect(() => decodeEntry(entry(fields as Record<string, string | Buffer>), 10)).toThrow(reason);
  });

  it('refuses payloads JSON cannot carry', () => {
    expect(() => encodeEntry('e', undefined)).toThrow(TypeError);
  });

  it('reads reply entries and reports deleted ones as null', () => {
    expect(toRawEntry([Buffer.from('1-0'), [Buffer.from('a'), Buffer.from('b')]])).toEqual({
      id: '1-0',
      fields: ['a', Buffer.from('b')],
    });
    expect(toRawEntry(['1-0', null])).toBeNull();
  });

  it('reads text replies as they are, and tells which may have lost bytes', () => {
    const text = fromTextReply(['1-0', ['a', 'b', 'c', 'caf\u00e9']]);
    expect(text).toEqual({ id: '1-0', fields: ['a', 'b', 'c', 'caf\u00e9'] });
    expect(mayHaveLostBytes(text!)).toBe(false);
    // What ioredis makes of bytes that are not UTF-8.
    const lossy = fromTextReply(['1-1', ['a', Buffer.from([0x61, 0xff]).toString()]]);
    expect(mayHaveLostBytes(lossy!)).toBe(true);
    expect(fromTextReply(['1-2', null])).toBeNull();
  });

  it('decodes text and bytes alike, and counts the limit in bytes', () => {
    const fields = { eventId: 'e1', payload: '{"m":"\u00e9\u00e9"}' };
    const asText = { id: '1-0', fields: Object.entries(fields).flat() };
    expect(decodeEntry(asText, 1024)).toEqual(decodeEntry(entry(fields), 1024));
    // 10 characters, 12 bytes.
    const wide = { id: '1-0', fields: ['message', '\u00e9\u00e9' + 'x'.repeat(8)] };
    expect(() => decodeEntry(wide, 11)).toThrow(/12 bytes, over the limit of 11/);
    expect(decodeEntry(wide, 12).payload).toEqual({ message: '\u00e9\u00e9xxxxxxxx' });
  });
});
