import { NonRetryableError } from './non-retryable.error.js';
import { decodeEntry, encodeEntry, toRawEntry } from './stream-codec.js';

const entry = (fields: Record<string, string | Buffer>, id = '1-0') => ({
  id,
  fields: Object.entries(fields).map(([k, v]): [string, Buffer] => [
    k,
    Buffer.isBuffer(v) ? v : Buffer.from(v),
  ]),
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
      fields: [['a', Buffer.from('b')]],
    });
    expect(toRawEntry(['1-0', null])).toBeNull();
  });
});
