import { BatchError } from '../errors/batch.error.js';

/** How a batch handler's call ended: it returned a value, or threw an error. */
export type BatchCallEnd = { returned: unknown } | { thrown: unknown };

/** The items that failed, by their index in the batch, each with its error. */
export type FailedItems = ReadonlyMap<number, unknown>;

const NONE: FailedItems = new Map();

/**
 * Which items of a batch failed, and why, from how the handler's call ended:
 * - it returned nothing, or a value without `failed`: none (a handler's return value is otherwise
 *   ignored, as for one entry);
 * - it returned `{ failed }` or threw a `BatchError`: the items named, by index or entry id;
 * - it threw anything else: every item, with that error.
 * A report that does not name items of this batch (an index out of range, an unknown id, no list)
 * cannot say which items succeeded: every item fails, with an error that says what is wrong.
 * `ids` are the items' entry ids, in the order the handler got them.
 */
export function failedItems(ids: readonly string[], end: BatchCallEnd): FailedItems {
  let failed: unknown;
  if ('thrown' in end) {
    if (!(end.thrown instanceof BatchError)) return every(ids.length, end.thrown);
    failed = end.thrown.failures;
  } else {
    const returned = end.returned;
    if (typeof returned !== 'object' || returned === null || !('failed' in returned)) return NONE;
    failed = returned.failed;
  }
  if (!Array.isArray(failed)) {
    return unreadable(ids.length, `"failed" must be a list, not ${typeof failed}`);
  }
  const items = new Map<number, unknown>();
  let byId: Map<string, number> | undefined;
  for (const failure of failed as unknown[]) {
    if (typeof failure !== 'object' || failure === null) {
      return unreadable(ids.length, `a failure must be { index, error } or { id, error }`);
    }
    const { index, id, error } = failure as { index?: unknown; id?: unknown; error?: unknown };
    let at: number | undefined;
    if (index !== undefined && id === undefined) {
      if (
        typeof index !== 'number' ||
        !Number.isInteger(index) ||
        index < 0 ||
        index >= ids.length
      ) {
        return unreadable(
          ids.length,
          `index ${String(index)} is not an item of a batch of ${ids.length}`,
        );
      }
      at = index;
    } else if (id !== undefined && index === undefined) {
      byId ??= new Map(ids.map((each, i) => [each, i]));
      at = typeof id === 'string' ? byId.get(id) : undefined;
      if (at === undefined)
        return unreadable(ids.length, `id ${String(id)} is not an item of the batch`);
    } else {
      return unreadable(
        ids.length,
        'a failure names its item by index or by id, not both or neither',
      );
    }
    // An item named twice keeps its first error.
    if (!items.has(at)) items.set(at, error ?? new Error('reported as failed, without an error'));
  }
  return items;
}

function every(count: number, error: unknown): FailedItems {
  const items = new Map<number, unknown>();
  for (let i = 0; i < count; i++) items.set(i, error);
  return items;
}

function unreadable(count: number, problem: string): FailedItems {
  return every(
    count,
    new TypeError(
      `the batch handler's report of failed items cannot be read (${problem}); every item of the batch counts as failed`,
    ),
  );
}
