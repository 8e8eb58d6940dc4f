import calculateSlot from 'cluster-key-slot';
import type { ConsumerDefinition } from '../consumer/consumer-definition.js';
import { streamKeys } from '../stream-keys.js';

/**
 * On Cluster, the scripts of a stream touch the stream and the keys derived from it in one call,
 * which Redis allows only within one slot: refuse to start rather than fail every call later with
 * CROSSSLOT. A hash tag in the stream name (`app:{alerts}`) puts all of them in one slot.
 */
export function assertOneSlotPerStream(definitions: readonly ConsumerDefinition[]): void {
  const problems: string[] = [];
  for (const { stream, group } of definitions) {
    const sample = 'event-id';
    const slot = calculateSlot(stream);
    const outside = [
      streamKeys.deadLetter(stream),
      streamKeys.retries(stream, group),
      streamKeys.attempts(stream, group),
      streamKeys.dedup(stream, sample),
      streamKeys.done(stream, group, sample),
      streamKeys.lease(stream, group),
      streamKeys.fence(stream, group),
    ].filter((key) => calculateSlot(key) !== slot);
    if (outside.length > 0) problems.push(`"${stream}" (e.g. ${outside[0]})`);
  }
  if (problems.length > 0) {
    throw new Error(
      'On Redis Cluster all keys of a stream must be in one slot, or its scripts fail with CROSSSLOT: ' +
        `name each stream with a hash tag, e.g. "app:{orders}" instead of "orders". Keys in another slot than their stream: ${[...new Set(problems)].join(', ')}`,
    );
  }
}
