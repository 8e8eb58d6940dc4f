/**
 * `work`, bounded in time: rejects after `ms` with `no answer within <ms> ms` unless it settled
 * first. The work itself goes on; only the wait for it ends (a probe must answer, Redis or not).
 */
export function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** Waits for `work` at most `ms`: whether it settled in time (a failure counts as settled). */
export async function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  const settles = work.then(
    () => true,
    () => true,
  );
  return withTimeout(settles, ms).catch(() => false);
}
