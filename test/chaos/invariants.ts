import type { WebhookRequest } from '../faults/recording-webhook.js';
import { isInfrastructureReason } from './dead-letter-reason.js';
import { describeCalls, entryNamesOf, evidence, streamOfKey, type Clock } from './evidence.js';
import {
  groupBy,
  type InjectedFault,
  type OrderedPublish,
  type ProcessExit,
  type PublishAttempt,
  type PublishOutcome,
} from './history.js';
import type { DeadLetterEntry, RedisState } from './redis-state.js';

/** The invariants, each with the sentence the report prints for it. */
export const INVARIANTS = {
  'accepted-is-delivered-or-dead-lettered':
    'every accepted event was delivered (2xx at the receiver) or is in the dead-letter stream',
  'no-dead-letter-for-infrastructure':
    'no dead letter gives an infrastructure failure (Redis full, away or slow) as its reason',
  'nothing-delivered-after-dead-letter':
    'nothing dead-lettered was delivered afterwards (no replay was done)',
  'nothing-left-pending': 'every pending list is empty and every group has read its whole stream',
  'no-retries-left': 'every retries set (*:retries:*) is empty',
  'no-attempts-left': 'every attempts hash (*:attempts:*) is empty',
  'no-leases-left':
    'no lease is left once the processes stopped and leases had time to expire: partition leases, memberships, running-markers',
  'ordered-per-key':
    'ordered handler: no event of a key was handled before every earlier event of that key was',
  'no-crash': 'no process ended by itself, and each one exited 0 on the final SIGTERM',
  'no-phantom-delivery': 'the receiver got nothing that was never published',
} as const;
export type InvariantName = keyof typeof INVARIANTS;

export interface Violation {
  invariant: InvariantName;
  /** What it is about: an eventId, a key, a process, a group. */
  subject: string;
  /** The evidence: where the event is, what the receiver saw, which faults were active. */
  detail: string;
}

/** The figures of a run, for the summary table. */
export interface Figures {
  faults: Record<string, number>;
  publishAttempts: Record<PublishOutcome, number>;
  /** Alerts the API answered 202 for. */
  accepted: number;
  /** Accepted alerts the receiver took (2xx). */
  delivered: number;
  /** Alerts delivered without ever being confirmed to the client (a 503 or timeout whose write went through). */
  unconfirmedDelivered: number;
  /** Accepted alerts in the dead-letter stream and never delivered. */
  deadLettered: number;
  /** Dead letters, of any group, whose reason is an infrastructure failure. */
  deadLetteredInfra: number;
  /** Dead letters by group and reason (numbers in the reason folded into N). */
  deadLetterReasons: Record<string, number>;
  /** Alerts both delivered and dead-lettered (delivered first: a stale owner's dead letter). */
  deliveredAndDeadLettered: number;
  /** Accepted alerts neither delivered nor dead-lettered. */
  lost: number;
  /** 2xx answers beyond the first per event, alerts and ordered events together. */
  duplicates: number;
  orderedPublished: number;
  orderedDelivered: number;
  orderedDeadLettered: number;
  orderedLost: number;
  outOfOrder: number;
  receiverCalls: number;
  crashes: number;
  violations: number;
}

/** What the checker reads: the history of the run and the state Redis was left in. */
export interface CheckInput {
  publishes: readonly PublishAttempt[];
  ordered: readonly OrderedPublish[];
  calls: readonly WebhookRequest[];
  faults: readonly InjectedFault[];
  exits: readonly ProcessExit[];
  /** Redis once the system settled (or the settle wait ran out), processes still running. */
  state: RedisState;
  /** Redis after the processes stopped and leases had time to expire. */
  afterShutdown: Pick<RedisState, 'leases' | 'members' | 'runningMarkers'>;
  /** The groups whose handler calls the receiver: the alerts webhook group, the ordered group. */
  groups: { alerts: string; ordered: string };
  /** Entry id to eventId of the entries still in the alerts stream (evidence only). */
  alertsEntries?: ReadonlyMap<string, string>;
  /** eventIds replayed from the dead-letter stream on purpose (none in the schedule). */
  replayed?: ReadonlySet<string>;
  /** When the run started: times in the evidence are given from it (`+12.345s`). */
  startedAt?: number;
}

export interface CheckResult {
  violations: Violation[];
  figures: Figures;
}

/** Per event: its receiver calls in arrival order. */
type CallsByKey = Map<string, WebhookRequest[]>;

const isSuccess = (call: WebhookRequest): boolean =>
  call.status !== undefined && call.status >= 200 && call.status < 300;

/** What every check reads and writes: the input, its indexes, and the violations found so far. */
interface Judging {
  input: CheckInput;
  calls: CallsByKey;
  deadLetters: Map<string, DeadLetterEntry[]>;
  violations: Violation[];
  /** Where an event got to, for the evidence. */
  explain: (key: string) => string;
  t: Clock;
}

/**
 * Judges a run. Pure: everything it needs is in `input`, so a history can be checked again, and
 * synthetic histories show that each invariant can fail.
 */
export function checkHistory(input: CheckInput): CheckResult {
  const calls = groupBy(input.calls, (call) => call.key);
  const deadLetters = groupBy(input.state.deadLetters, (letter) => letter.eventId);
  const t: Clock = (at) =>
    input.startedAt === undefined ? String(at) : `+${((at - input.startedAt) / 1_000).toFixed(3)}s`;
  const judging: Judging = {
    input,
    calls,
    deadLetters,
    violations: [],
    explain: evidence(input, calls, deadLetters, t),
    t,
  };
  const alerts = checkAlerts(judging);
  const ordered = checkOrderedEvents(judging);
  const letters = checkDeadLetters(judging);
  checkLeftovers(judging);
  const crashes = checkProcesses(judging);
  checkPhantoms(judging, alerts.attempted, ordered.byEventId);

  let duplicates = 0;
  for (const list of calls.values()) {
    duplicates += Math.max(0, list.filter(isSuccess).length - 1);
  }
  const faults: Record<string, number> = {};
  for (const fault of input.faults) faults[fault.kind] = (faults[fault.kind] ?? 0) + 1;
  const { violations } = judging;
  return {
    violations,
    figures: {
      faults,
      publishAttempts: alerts.publishAttempts,
      accepted: alerts.accepted,
      delivered: alerts.delivered,
      unconfirmedDelivered: alerts.unconfirmedDelivered,
      deadLettered: alerts.deadLettered,
      deadLetteredInfra: letters.infra,
      deadLetterReasons: letters.reasons,
      deliveredAndDeadLettered: letters.deliveredBefore,
      lost: alerts.lost,
      duplicates,
      orderedPublished: ordered.published,
      orderedDelivered: ordered.delivered,
      orderedDeadLettered: ordered.deadLettered,
      orderedLost: ordered.lost,
      outOfOrder: ordered.outOfOrder,
      receiverCalls: input.calls.length,
      crashes,
      violations: violations.length,
    },
  };
}

/** Every alert the API answered 202 for was delivered, or dead-lettered by the webhook group. */
function checkAlerts({ input, calls, deadLetters, violations, explain }: Judging) {
  const attempted = new Set(input.publishes.map((p) => p.key));
  const accepted = groupBy(
    input.publishes.filter((p) => p.outcome === 'accepted'),
    (p) => p.key,
  );
  const publishAttempts: Record<PublishOutcome, number> = {
    accepted: 0,
    unavailable: 0,
    other: 0,
    timeout: 0,
    refused: 0,
  };
  for (const attempt of input.publishes) publishAttempts[attempt.outcome] += 1;
  const counts = { delivered: 0, deadLettered: 0, lost: 0, unconfirmedDelivered: 0 };
  for (const key of attempted) {
    const wasDelivered = (calls.get(key) ?? []).some(isSuccess);
    const confirmations = accepted.get(key);
    if (!confirmations) {
      if (wasDelivered) counts.unconfirmedDelivered += 1;
      continue;
    }
    const wrongId = confirmations.find((a) => a.eventId !== key);
    if (wrongId) {
      violations.push({
        invariant: 'accepted-is-delivered-or-dead-lettered',
        subject: key,
        detail: `the 202 named eventId ${JSON.stringify(wrongId.eventId)}, not the Idempotency-Key`,
      });
    }
    const letters = (deadLetters.get(key) ?? []).filter((l) => l.group === input.groups.alerts);
    if (wasDelivered) counts.delivered += 1;
    else if (letters.length > 0) counts.deadLettered += 1;
    else {
      counts.lost += 1;
      violations.push({
        invariant: 'accepted-is-delivered-or-dead-lettered',
        subject: key,
        detail: `accepted, never delivered, not dead-lettered: ${explain(key)}`,
      });
    }
  }
  return { attempted, accepted: accepted.size, publishAttempts, ...counts };
}

/** Every confirmed ordered event was delivered or dead-lettered, and each key's in order. */
function checkOrderedEvents(judging: Judging) {
  const { input, calls, deadLetters, violations, explain } = judging;
  const byEventId = new Map<string, OrderedPublish>();
  for (const publish of input.ordered) {
    const known = byEventId.get(publish.eventId);
    if (!known || (!known.ok && publish.ok)) byEventId.set(publish.eventId, publish);
  }
  const counts = { published: 0, delivered: 0, deadLettered: 0, lost: 0 };
  for (const [eventId, publish] of byEventId) {
    if (!publish.ok) continue;
    counts.published += 1;
    const letters = (deadLetters.get(eventId) ?? []).filter(
      (l) => l.group === input.groups.ordered,
    );
    if ((calls.get(eventId) ?? []).some(isSuccess)) counts.delivered += 1;
    else if (letters.length > 0) counts.deadLettered += 1;
    else {
      counts.lost += 1;
      violations.push({
        invariant: 'accepted-is-delivered-or-dead-lettered',
        subject: eventId,
        detail: `ordered event published (${publish.entryId} in ${publish.stream}), never delivered, not dead-lettered: ${explain(eventId)}`,
      });
    }
  }
  return { byEventId, ...counts, outOfOrder: checkOrder(judging, byEventId) };
}

/** Dead letters are never for the system's own fault, and final (nothing delivered after them). */
function checkDeadLetters({ input, calls, deadLetters, violations, explain, t }: Judging) {
  const replayed = input.replayed ?? new Set<string>();
  let infra = 0;
  let deliveredBefore = 0;
  const reasons: Record<string, number> = {};
  for (const letter of input.state.deadLetters) {
    const reason = `${letter.group}: ${letter.reason.replace(/\d+/g, 'N').slice(0, 120)}`;
    reasons[reason] = (reasons[reason] ?? 0) + 1;
    if (!isInfrastructureReason(letter.reason)) continue;
    infra += 1;
    violations.push({
      invariant: 'no-dead-letter-for-infrastructure',
      subject: letter.eventId,
      detail: `${letter.stream}/${letter.group} dead-lettered ${letter.originalId} by ${letter.consumer} after ${letter.attempts} attempt(s): ${letter.reason}; ${explain(letter.eventId)}`,
    });
  }
  for (const [key, letters] of deadLetters) {
    if (replayed.has(key)) continue;
    const handlerLetters = letters.filter(
      (l) => l.group === input.groups.alerts || l.group === input.groups.ordered,
    );
    if (handlerLetters.length === 0) continue;
    const first = Math.min(...handlerLetters.map((l) => l.at));
    const successes = (calls.get(key) ?? []).filter(isSuccess);
    const after = successes.filter((call) => call.at > first);
    if (after.length > 0) {
      violations.push({
        invariant: 'nothing-delivered-after-dead-letter',
        subject: key,
        detail: `dead-lettered at ${t(first)}, delivered ${after.length} time(s) after, first ${after[0].at - first} ms after: ${explain(key)}`,
      });
    } else if (successes.length > 0) {
      deliveredBefore += 1;
    }
  }
  return { infra, deliveredBefore, reasons };
}

/** Nothing is left to do in Redis, and no lease outlives the processes. */
function checkLeftovers({ input, violations }: Judging): void {
  const names = entryNamesOf(input);
  for (const group of input.state.groups) {
    const subject = `${group.stream}/${group.group}`;
    if (group.pending > 0) {
      const shown = group.pendingEntries
        .slice(0, 10)
        .map(
          (p) =>
            `${names(group.stream, p.id)} on ${p.consumer}, idle ${p.idleMs} ms, ${p.deliveries} deliveries`,
        );
      violations.push({
        invariant: 'nothing-left-pending',
        subject,
        detail: `${group.pending} pending: ${shown.join('; ')}`,
      });
    }
    if (group.behind) {
      violations.push({
        invariant: 'nothing-left-pending',
        subject,
        detail: `has read up to ${group.lastDeliveredId} only: entries after it were never read`,
      });
    }
  }
  for (const [key, members] of Object.entries(input.state.retries)) {
    const shown = members.slice(0, 10).map((id) => names(streamOfKey(key, ':retries:'), id));
    violations.push({
      invariant: 'no-retries-left',
      subject: key,
      detail: `${members.length} member(s): ${shown.join(', ')}`,
    });
  }
  for (const [key, fields] of Object.entries(input.state.attempts)) {
    const ids = Object.keys(fields);
    const shown = ids
      .slice(0, 10)
      .map((id) => `${names(streamOfKey(key, ':attempts:'), id)}=${fields[id]}`);
    violations.push({
      invariant: 'no-attempts-left',
      subject: key,
      detail: `${ids.length} field(s): ${shown.join(', ')}`,
    });
  }
  const { leases, members, runningMarkers } = input.afterShutdown;
  for (const [key, holder] of Object.entries(leases)) {
    violations.push({ invariant: 'no-leases-left', subject: key, detail: `held by ${holder}` });
  }
  for (const [key, live] of Object.entries(members)) {
    violations.push({
      invariant: 'no-leases-left',
      subject: key,
      detail: `members ${live.join(', ')} after every process stopped`,
    });
  }
  for (const [key, value] of Object.entries(runningMarkers)) {
    violations.push({ invariant: 'no-leases-left', subject: key, detail: `still ${value}` });
  }
}

/** No process ended by itself, and each exited 0 on the final SIGTERM. Returns how many did not. */
function checkProcesses({ input, violations }: Judging): number {
  let crashes = 0;
  for (const exit of input.exits) {
    if (exit.cause === 'killed' || (exit.cause === 'terminated' && exit.code === 0)) continue;
    crashes += 1;
    const how = exit.cause === 'terminated' ? 'on the final SIGTERM, exited' : 'ended by itself';
    violations.push({
      invariant: 'no-crash',
      subject: `${exit.process} (life ${exit.life})`,
      detail: `${how} with code ${exit.code}, signal ${exit.signal}${exit.stderrTail ? `; stderr ends: ${exit.stderrTail}` : ''}`,
    });
  }
  return crashes;
}

/** The receiver got nothing that nobody published. */
function checkPhantoms(
  { calls, violations }: Judging,
  alertKeys: ReadonlySet<string>,
  orderedEvents: ReadonlyMap<string, OrderedPublish>,
): void {
  for (const [key, list] of calls) {
    if (alertKeys.has(key) || orderedEvents.has(key)) continue;
    violations.push({
      invariant: 'no-phantom-delivery',
      subject: key,
      detail: `${list.length} call(s) for an eventId never published`,
    });
  }
}

/**
 * Per key, events are known to exist when their publish was confirmed, the receiver saw them, or
 * they were dead-lettered. Each one's first call must come after every earlier one of its key was
 * done: delivered (first 2xx) or dead-lettered. Calls of a stale owner that arrive late are no
 * harm: they come after the event was done. One violation per event that was overtaken (the
 * earliest not done when a later one started), with how many later events overtook it; returns how
 * many events started too early.
 */
function checkOrder(
  { input, calls, deadLetters, violations, explain, t }: Judging,
  byEventId: Map<string, OrderedPublish>,
): number {
  const perKey = groupBy(
    [...byEventId.values()].filter(
      (p) => p.ok || calls.has(p.eventId) || deadLetters.has(p.eventId),
    ),
    (p) => p.key,
  );
  const doneAt = (eventId: string): number => {
    const success = (calls.get(eventId) ?? []).find(isSuccess)?.at;
    const letter = (deadLetters.get(eventId) ?? []).find((l) => l.group === input.groups.ordered);
    return Math.min(success ?? Infinity, letter?.at ?? Infinity);
  };
  let early = 0;
  for (const events of perKey.values()) {
    events.sort((a, b) => a.seq - b.seq);
    const done = events.map((event) => doneAt(event.eventId));
    const overtaken = new Map<number, { count: number; first: OrderedPublish; at: number }>();
    for (let n = 0; n < events.length; n++) {
      const firstCall = calls.get(events[n].eventId)?.[0]?.at;
      if (firstCall === undefined) continue;
      const m = done.findIndex((at, i) => i < n && at > firstCall);
      if (m === -1) continue;
      early += 1;
      const seen = overtaken.get(m);
      if (seen) seen.count += 1;
      else overtaken.set(m, { count: 1, first: events[n], at: firstCall });
    }
    for (const [m, { count, first, at }] of overtaken) {
      const late = events[m];
      const when = done[m] === Infinity ? 'never done' : `done at ${t(done[m])}`;
      violations.push({
        invariant: 'ordered-per-key',
        subject: late.eventId,
        detail: `${when}, but ${count} later event(s) of ${late.key} were handled before, the first ${first.eventId} at ${t(at)} (calls ${describeCalls(calls.get(first.eventId) ?? [], t)}); ${late.eventId}: ${explain(late.eventId)}`,
      });
    }
  }
  return early;
}
