import calculateSlot from 'cluster-key-slot';
import { ownerOf, partitionOf, partitionStream, partitionStreams } from './partitions.js';

describe('partitions', () => {
  it('names partitions with a hash tag, so a partition and its keys share one slot', () => {
    expect(partitionStreams('alerts', 3)).toEqual(['alerts:{0}', 'alerts:{1}', 'alerts:{2}']);
    const stream = partitionStream('alerts', 2);
    expect(calculateSlot(`${stream}:dlq`)).toBe(calculateSlot(stream));
    expect(calculateSlot(`${stream}:lease:g`)).toBe(calculateSlot(stream));
  });

  it('routes a key to the same partition every time, and spreads keys evenly', () => {
    expect(partitionOf('db-1', 8)).toBe(partitionOf('db-1', 8));
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 8_000; i++) counts[partitionOf(`source-${i}`, 8)] += 1;
    for (const count of counts) expect(count).toBeGreaterThan(800);
  });

  it('gives each partition one owner, and moves only the partitions of a member that leaves', () => {
    const members = ['a', 'b', 'c'];
    const before = Array.from({ length: 32 }, (_, p) => ownerOf(p, members));
    expect(new Set(before)).toEqual(new Set(members));
    const after = Array.from({ length: 32 }, (_, p) => ownerOf(p, ['a', 'c']));
    before.forEach((owner, p) => {
      if (owner !== 'b') expect(after[p]).toBe(owner);
      else expect(['a', 'c']).toContain(after[p]);
    });
    expect(ownerOf(0, [])).toBeUndefined();
  });

  it('shares partitions about evenly, also between members with similar names', () => {
    for (const members of [
      ['b', 'c'],
      ['pod-1', 'pod-2', 'pod-3'],
    ]) {
      const counts = new Map<string, number>();
      for (let p = 0; p < 60; p++) {
        const owner = ownerOf(p, members)!;
        counts.set(owner, (counts.get(owner) ?? 0) + 1);
      }
      for (const member of members) {
        expect(counts.get(member) ?? 0).toBeGreaterThan(60 / members.length / 2);
      }
    }
  });
});
