import { validate, version } from 'uuid';
import { newEventId } from './event-id.js';

describe('newEventId', () => {
  it('makes valid, distinct UUIDv7s that sort in the order they were made', () => {
    const ids = Array.from({ length: 5_000 }, () => newEventId());
    for (const id of ids.slice(0, 50)) {
      expect(validate(id)).toBe(true);
      expect(version(id)).toBe(7);
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it('carries the time it was made', () => {
    const before = Date.now();
    const id = newEventId();
    const msecs = parseInt(id.replaceAll('-', '').slice(0, 12), 16);
    expect(msecs).toBeGreaterThanOrEqual(before);
    expect(msecs).toBeLessThanOrEqual(Date.now() + 1);
  });
});
