import { SeededRandom } from '../support/seeded-random.js';

/** Every kind of fault the schedule mixes. */
export const FAULT_KINDS = [
  'instance-kill',
  'instance-stop',
  'redis-kill',
  'redis-stop',
  'redis-sleep',
  'redis-oom',
  'lost-reply',
  'black-hole',
  'receiver-500',
  'receiver-429',
  'receiver-stall',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Three lanes run side by side, so faults of different lanes overlap: processes (kill -9 then
 * restart, SIGSTOP then SIGCONT), Redis and the network to it, and the webhook receiver. Within a
 * lane one fault follows another after a healthy gap.
 */
export type FaultLane = 'process' | 'redis' | 'receiver';

export interface PlannedFault {
  lane: FaultLane;
  kind: FaultKind;
  /** Start, in ms from the start of the fault phase. */
  atMs: number;
  /** How long it lasts before it is healed (lost-reply: how long it stays armed). */
  durationMs: number;
  /** The process it hits (index into the run's processes); for black-hole, -1 is all of them. */
  target?: number;
  /** lost-reply: replies let through before the one that is lost. */
  skip?: number;
}

/** Ranges, in ms, of each lane's faults and of the healthy gaps between them. */
/** SIGSTOPs longer than the claim idle time (1.5 s), and on both sides of the partition lease (5 s). */
const PROCESS_FAULT_MS: [number, number] = [2_000, 8_000];
const PROCESS_GAP_MS: [number, number] = [1_000, 4_000];
const REDIS_GAP_MS: [number, number] = [1_500, 5_000];
const RECEIVER_FAULT_MS: [number, number] = [1_500, 5_000];
const RECEIVER_GAP_MS: [number, number] = [2_000, 6_000];
const REDIS_FAULT_MS: Record<
  Exclude<FaultKind, 'instance-kill' | 'instance-stop' | `receiver-${string}`>,
  [number, number]
> = {
  'redis-kill': [500, 3_000],
  'redis-stop': [1_000, 6_000],
  'redis-sleep': [1_000, 6_000],
  'redis-oom': [4_000, 15_000],
  'lost-reply': [1_000, 1_000],
  'black-hole': [1_000, 4_000],
};

/**
 * The faults of one run, decided by the seed alone: the same seed gives the same kinds, targets,
 * start times and durations (what happens in between still depends on timing). Each lane draws
 * from its own generator, so a change to one lane does not shift the others.
 */
export function planFaults(seed: number, faultMs: number, processes: number): PlannedFault[] {
  const lane = (salt: number): SeededRandom =>
    new SeededRandom((Math.imul(seed, 2_654_435_761) + salt) >>> 0 || salt);
  const faults: PlannedFault[] = [];

  const processLane = lane(1);
  for (let at = processLane.int(500, 2_500); at < faultMs;) {
    const durationMs = processLane.int(...PROCESS_FAULT_MS);
    faults.push({
      lane: 'process',
      kind: processLane.pick(['instance-kill', 'instance-stop'] as const),
      atMs: at,
      durationMs,
      target: processLane.int(0, processes - 1),
    });
    at += durationMs + processLane.int(...PROCESS_GAP_MS);
  }

  const redisLane = lane(2);
  const redisKinds = Object.keys(REDIS_FAULT_MS) as Array<keyof typeof REDIS_FAULT_MS>;
  for (let at = redisLane.int(500, 3_000); at < faultMs;) {
    const kind = redisLane.pick(redisKinds);
    const durationMs = redisLane.int(...REDIS_FAULT_MS[kind]);
    const fault: PlannedFault = { lane: 'redis', kind, atMs: at, durationMs };
    if (kind === 'lost-reply') {
      fault.target = redisLane.int(0, processes - 1);
      fault.skip = redisLane.int(0, 40);
    } else if (kind === 'black-hole') {
      fault.target = redisLane.int(-1, processes - 1);
    }
    faults.push(fault);
    at += durationMs + redisLane.int(...REDIS_GAP_MS);
  }

  const receiverLane = lane(3);
  for (let at = receiverLane.int(1_000, 4_000); at < faultMs;) {
    const durationMs = receiverLane.int(...RECEIVER_FAULT_MS);
    faults.push({
      lane: 'receiver',
      kind: receiverLane.pick(['receiver-500', 'receiver-429', 'receiver-stall'] as const),
      atMs: at,
      durationMs,
    });
    at += durationMs + receiverLane.int(...RECEIVER_GAP_MS);
  }
  return faults.sort((a, b) => a.atMs - b.atMs);
}
