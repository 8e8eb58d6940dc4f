/**
 * Partitioned streams: a logical stream `S` split into P streams `S:{0}` ... `S:{P-1}`. The braces
 * are a Cluster hash tag: each partition and every key derived from it (dead letters, retries,
 * de-duplication, leases) share one slot, and different partitions land on different shards.
 */

/** The Redis stream of partition `index` of `stream`. */
export function partitionStream(stream: string, index: number): string {
  return `${stream}:{${index}}`;
}

/** All partition streams of `stream`, in partition order. */
export function partitionStreams(stream: string, partitions: number): string[] {
  return Array.from({ length: partitions }, (_, i) => partitionStream(stream, i));
}

/**
 * FNV-1a, 32 bits, with MurmurHash3's finalizer: small, fast and stable across processes and
 * versions, which is all routing needs (the same key must always reach the same partition). The
 * finalizer mixes the last characters into every bit; without it, names that differ only at the
 * start compare the same way for every partition, and one member would win them all.
 */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** The partition a key belongs to: every event with the same key goes to the same partition. */
export function partitionOf(key: string, partitions: number): number {
  return fnv1a(key) % partitions;
}

/**
 * Which live member should own a partition: rendezvous (highest random weight) hashing. Every
 * instance computes the same answer from the same member list, and when a member joins or leaves
 * only the partitions it gains or loses move.
 */
export function ownerOf(partition: number, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const member of members) {
    const weight = fnv1a(`${member}\u0000${partition}`);
    if (weight > bestWeight || (weight === bestWeight && best !== undefined && member < best)) {
      best = member;
      bestWeight = weight;
    }
  }
  return best;
}

export function assertValidPartitions(stream: string, partitions: number): void {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024) {
    throw new Error(
      `partitions of "${stream}" must be an integer from 1 to 1024, not ${String(partitions)}`,
    );
  }
  if (/[{}]/.test(stream)) {
    throw new Error(
      `A partitioned stream's name must not contain { or }: its partitions are "${stream}:{0}" and so on`,
    );
  }
}
