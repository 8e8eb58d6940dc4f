/** A stream entry id as Redis writes it, `<ms>-<seq>`: the only shape accepted from callers. */
export const STREAM_ID_PATTERN = /^\d{1,20}-\d{1,20}$/;

/** The id itself, or a RangeError for anything a caller sent that is not a stream entry id. */
export function assertStreamId(id: string): string {
  if (!STREAM_ID_PATTERN.test(id))
    throw new RangeError(`"${id.slice(0, 50)}" is not a stream entry id`);
  return id;
}

/** Stream ids are `<ms>-<seq>`; compare them as numbers, never as strings. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = parse(a);
  const [bm, bs] = parse(b);
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return 0;
}

/** The smallest id greater than `id`. */
export function nextStreamId(id: string): string {
  const [ms, seq] = parse(id);
  return `${ms}-${seq + 1n}`;
}

function parse(id: string): [bigint, bigint] {
  const [ms, seq = '0'] = id.split('-');
  return [BigInt(ms), BigInt(seq)];
}

/** Milliseconds since the epoch at which Redis appended the entry, from its id. */
export function streamIdTimeMs(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}
