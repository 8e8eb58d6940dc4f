import { compareStreamIds, nextStreamId } from './stream-id.js';

describe('stream ids', () => {
  it('compares numerically, not as text', () => {
    expect(compareStreamIds('9-0', '10-0')).toBe(-1);
    expect(compareStreamIds('10-2', '10-10')).toBe(-1);
    expect(compareStreamIds('10-10', '10-10')).toBe(0);
    expect(compareStreamIds('11-0', '10-99')).toBe(1);
  });

  it('finds the next id', () => {
    expect(nextStreamId('0-0')).toBe('0-1');
    expect(nextStreamId('1718000000000-9')).toBe('1718000000000-10');
  });
});
