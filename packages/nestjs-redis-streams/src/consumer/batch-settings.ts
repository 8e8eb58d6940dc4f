/** How a batch handler's entries are gathered (the `batch` option, checked). */
export interface BatchSettings {
  maxSize: number;
  maxWaitMs: number;
}

/** The batch settings of a handler's `batch` option (none without one), or what is wrong with it. */
export function resolveBatch(option: unknown): { batch?: BatchSettings; problems: string[] } {
  if (option === undefined) return { problems: [] };
  if (typeof option !== 'object' || option === null || Array.isArray(option)) {
    return { problems: [`batch must be { maxSize, maxWaitMs }, not ${JSON.stringify(option)}`] };
  }
  const { maxSize, maxWaitMs, ...unknown } = option as Record<string, unknown>;
  const problems = Object.keys(unknown).map((key) => `unknown batch option ${JSON.stringify(key)}`);
  if (!isIntegerOfAtLeast(maxSize, 1)) {
    problems.push(`batch.maxSize must be an integer of at least 1, not ${JSON.stringify(maxSize)}`);
  }
  if (!isIntegerOfAtLeast(maxWaitMs, 0)) {
    problems.push(
      `batch.maxWaitMs must be an integer of at least 0, not ${JSON.stringify(maxWaitMs)}`,
    );
  }
  if (problems.length > 0) return { problems };
  return { batch: { maxSize: maxSize as number, maxWaitMs: maxWaitMs as number }, problems };
}

function isIntegerOfAtLeast(value: unknown, least: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= least;
}
