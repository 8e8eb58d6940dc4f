import { assertValidEventId, assertValidName, streamKeys } from './stream-keys.js';

describe('stream keys', () => {
  it('derives every key from the stream name, so a hash tag keeps them in one Cluster slot', () => {
    expect(streamKeys.deadLetter('{alerts}')).toBe('{alerts}:dlq');
    expect(streamKeys.retries('{alerts}', 'g')).toBe('{alerts}:retries:g');
    expect(streamKeys.attempts('{alerts}', 'g')).toBe('{alerts}:attempts:g');
    expect(streamKeys.dedup('{alerts}', 'e1')).toBe('{alerts}:dedup:e1');
  });

  it('rejects odd names and event ids', () => {
    expect(() => assertValidName('stream', 'alerts')).not.toThrow();
    expect(() => assertValidName('stream', 'bad name')).toThrow(/Invalid stream name/);
    expect(() => assertValidName('group', '')).toThrow();
    expect(() => assertValidEventId('0190-abc')).not.toThrow();
    expect(() => assertValidEventId('with space')).toThrow(RangeError);
    expect(() => assertValidEventId('x'.repeat(201))).toThrow(RangeError);
  });
});
