import { randomFillSync } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

// uuid draws 16 fresh bytes from crypto.getRandomValues for each id, which cost about a third of
// the publisher's CPU time in the benchmark. The bytes come from a pool refilled 256 ids at a time
// instead; uuid still lays out the id.
const POOL_IDS = 256;
const pool = new Uint8Array(16 * POOL_IDS);
let used = pool.length;
let lastMs = -Infinity;
let seq = 0;

/**
 * A new eventId: a UUIDv7, unique and time-ordered, also within one millisecond (its 31-bit
 * sequence starts at a random value each millisecond and counts up, as uuid's own v7 does).
 */
export function newEventId(): string {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const random = pool.subarray(used, used + 16);
  used += 16;
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    seq = ((random[6] & 0x7f) << 24) | (random[7] << 16) | (random[8] << 8) | random[9];
  } else {
    seq = (seq + 1) | 0;
    if (seq === 0) lastMs++;
  }
  return uuidv7({ random, msecs: lastMs, seq });
}
