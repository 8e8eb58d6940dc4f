import { DEAD_LETTER_SUFFIX } from './redis-streams.constants.js';

/**
 * The Redis keys that belong to a stream. All of them start with the stream name, so an ACL key
 * pattern like `~alerts*` covers them, and a stream named with a hash tag (`{alerts}`) keeps them
 * in one Cluster slot, which the Lua scripts need.
 */
export const streamKeys = {
  deadLetter: (stream: string): string => `${stream}${DEAD_LETTER_SUFFIX}`,
  dedup: (stream: string, eventId: string): string => `${stream}:dedup:${eventId}`,
  /** Sorted set of entry ids waiting for a retry, scored by the time they are due. */
  retries: (stream: string, group: string): string => `${stream}:retries:${group}`,
  /** Marks an event as handled by an idempotent handler's group. */
  done: (stream: string, group: string, eventId: string): string =>
    `${stream}:done:${group}:${eventId}`,
  /** Hash of entry id to attempts already spent (failures and abandoned deliveries). */
  attempts: (stream: string, group: string): string => `${stream}:attempts:${group}`,
  /** What one RECLAIM or TAKE_DUE_RETRIES call handed out, for a second run of that call. */
  claim: (stream: string, group: string, call: string): string =>
    `${stream}:claim:${group}:${call}`,
  /** Ordered handlers: who processes this partition stream, as "consumer|fencing token". */
  lease: (stream: string, group: string): string => `${stream}:lease:${group}`,
  /** Ordered handlers: the last fencing token handed out for this partition stream. */
  fence: (stream: string, group: string): string => `${stream}:fence:${group}`,
  /** Ordered handlers: live instances of a group on a partitioned stream, scored by expiry. */
  members: (stream: string, group: string): string => `${stream}:members:${group}`,
  /** Hash: a group's flow state (paused by hand, busy until, circuit), shared by its instances. */
  flow: (stream: string, group: string): string => `${stream}:flow:${group}`,
};

const NAME = /^[A-Za-z0-9][A-Za-z0-9:._{}-]{0,127}$/;

/** Stream and group names are code, not user input: reject anything odd early and loudly. */
export function assertValidName(kind: 'stream' | 'group' | 'consumer', name: string): void {
  if (!NAME.test(name)) {
    throw new Error(
      `Invalid ${kind} name ${JSON.stringify(name)}: use 1-128 characters of letters, digits and : . _ - { }`,
    );
  }
}

const EVENT_ID = /^[\x21-\x7e]{1,200}$/;

/** Whether an eventId may be used: it becomes part of keys and of HTTP headers. */
export function isValidEventId(eventId: string): boolean {
  return EVENT_ID.test(eventId);
}

/** An eventId becomes part of a key: printable ASCII without spaces, at most 200 characters. */
export function assertValidEventId(eventId: string): void {
  if (!isValidEventId(eventId)) {
    throw new RangeError('eventId must be 1-200 printable ASCII characters without spaces');
  }
}
