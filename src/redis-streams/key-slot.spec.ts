import { keySlot, keysOutsideFirstSlot } from './key-slot.js';

describe('keySlot', () => {
  it('matches CLUSTER KEYSLOT for plain keys', () => {
    // Values from `redis-cli CLUSTER KEYSLOT` on Redis 7.0.
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('alerts')).toBe(4569);
    expect(keySlot('alerts:dlq')).toBe(7058);
    expect(keySlot('123456789')).toBe(12739);
  });

  it('hashes only the first non-empty hash tag', () => {
    expect(keySlot('{alerts}')).toBe(keySlot('alerts'));
    expect(keySlot('{alerts}:dlq')).toBe(keySlot('alerts'));
    expect(keySlot('x{alerts}y{other}')).toBe(keySlot('alerts'));
    // An empty tag does not count: the whole key is hashed.
    expect(keySlot('{}alerts')).toBe(6417);
    expect(keySlot('a{b')).toBe(13340);
  });
});

describe('keysOutsideFirstSlot', () => {
  it('lists the keys whose slot differs from the first key', () => {
    expect(keysOutsideFirstSlot(['{alerts}', '{alerts}:dlq', '{alerts}:retries:g'])).toEqual([]);
    expect(keysOutsideFirstSlot(['alerts', 'alerts:dlq', '{alerts}:x'])).toEqual(['alerts:dlq']);
    expect(keysOutsideFirstSlot([])).toEqual([]);
  });
});
