import { readFileSync } from 'node:fs';

/** Median, min and max of the runs of one figure. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], runs: values };
}

/** The value below which `p` percent of the samples fall (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(Math.max(rank, 0), sorted.length - 1)];
}

/** Runs `measure` `runs` times, one after the other, and keeps each named value's spread. */
export async function repeat<K extends string>(
  runs: number,
  measure: (run: number) => Promise<Record<K, number>>,
): Promise<Record<K, Spread>> {
  const samples = new Map<K, number[]>();
  for (let run = 0; run < runs; run++) {
    const values = await measure(run);
    for (const [key, value] of Object.entries(values) as Array<[K, number]>) {
      samples.set(key, [...(samples.get(key) ?? []), value]);
    }
  }
  return Object.fromEntries([...samples].map(([key, values]) => [key, spread(values)])) as Record<
    K,
    Spread
  >;
}

export const now = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `done()` holds, or throws after `timeoutMs` with `what` in the message. */
export async function until(
  done: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Milliseconds on the machine's monotonic clock (CLOCK_MONOTONIC), the same in every process on
 * it: for times taken in one process and compared in another.
 */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/** USER_HZ: 100 on every Linux this runs on (`getconf CLK_TCK`). */
const CLOCK_TICKS_PER_SECOND = 100;
