import type { WebhookRequest } from '../faults/recording-webhook.js';
import type { PlannedFault } from './fault-schedule.js';

/** How one POST /alerts ended, as the client saw it. */
export type PublishOutcome = 'accepted' | 'unavailable' | 'other' | 'timeout' | 'refused';

/** One POST /alerts: the client chose the key (Idempotency-Key, so the eventId) beforehand. */
export interface PublishAttempt {
  key: string;
  /** The instance it was sent to. */
  process: string;
  at: number;
  ms: number;
  /** HTTP status; 0 when there was no answer. */
  status: number;
  outcome: PublishOutcome;
  /** From a 202: the stream entry id and the eventId the service answered with. */
  entryId?: string;
  eventId?: string;
}

/** One publish to the ordered stream through the library's StreamPublisher. */
export interface OrderedPublish {
  eventId: string;
  key: string;
  seq: number;
  at: number;
  ok: boolean;
  entryId?: string;
  stream?: string;
  error?: string;
}

/** A fault as it happened: planned, then injected and healed at these times. */
export interface InjectedFault extends PlannedFault {
  /** The process or proxy it hit, by name, or `redis`, `receiver`, `all proxies`. */
  targetName: string;
  startedAt: number;
  endedAt?: number;
  /** What went differently from the plan (target already down, lost reply never sent...). */
  note?: string;
}

/**
 * A process that ended, and why: the schedule killed it (kill -9), the final SIGTERM stopped it
 * (it must exit 0), or it ended by itself (a crash).
 */
export interface ProcessExit {
  process: string;
  life: number;
  at: number;
  code: number | null;
  signal: string | null;
  cause: 'killed' | 'terminated' | 'itself';
  /** The end of its stderr, for a crash. */
  stderrTail?: string;
}

/**
 * Everything the checker judges, as it happened: each publish attempt, each receiver call (kept by
 * the receiver), each fault and each process exit. Times are Date.now() of this process; Redis
 * stamps entry ids with the same machine clock.
 */
export class History {
  readonly publishes: PublishAttempt[] = [];
  readonly ordered: OrderedPublish[] = [];
  readonly faults: InjectedFault[] = [];
  readonly exits: ProcessExit[] = [];
  /** Things done to Redis behind the system's back on purpose (`--sabotage`), to see the checker fail. */
  readonly sabotage: string[] = [];

  /** Every call the receiver got, in arrival order: the receiver's own list, once it runs. */
  calls: readonly WebhookRequest[] = [];

  constructor(readonly seed: number) {}
}

/** Records by a key of theirs (an eventId, ...), each list in the records' order. */
export function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const list = groups.get(keyOf(item));
    if (list) list.push(item);
    else groups.set(keyOf(item), [item]);
  }
  return groups;
}
