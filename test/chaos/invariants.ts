import type { WebhookRequest } from '../faults/recording-webhook.js';
import { isInfrastructureReason } from './dead-letter-reason.js';
import type {
  InjectedFault,
  OrderedPublish,
  ProcessExit,
  PublishAttempt,
  PublishOutcome,
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

/** A time as the evidence shows it. */
type Clock = (at: number) => string;

const isSuccess = (call: WebhookRequest): boolean =>
  call.status !== undefined && call.status >= 200 && call.status < 300;

/**
 * Judges a run. Pure: everything it needs is in `input`, so a history can be checked again, and
 * synthetic histories show that each invariant can fail.
 */
export function checkHistory(input: CheckInput): CheckResult {
  const violations: Violation[] = [];
  const calls: CallsByKey = groupBy(input.calls, (call) => call.key);
  const deadLetters = groupBy(input.state.deadLetters, (letter) => letter.eventId);
  const replayed = input.replayed ?? new Set<string>();
  const t: Clock = (at) =>
    input.startedAt === undefined ? String(at) : `+${((at - input.startedAt) / 1_000).toFixed(3)}s`;
  const explain = evidence(input, calls, deadLetters, t);

  // Alerts: the API's 202 is the promise.
  const attempted = new Set(input.publishes.map((p) => p.key));
  const accepted = new Map<string, PublishAttempt[]>();
  const publishAttempts: Record<PublishOutcome, number> = {
    accepted: 0,
    unavailable: 0,
    other: 0,
    timeout: 0,
    refused: 0,
  };
  for (const attempt of input.publishes) {
    publishAttempts[attempt.outcome] += 1;
    if (attempt.outcome !== 'accepted') continue;
    const list = accepted.get(attempt.key);
    if (list) list.push(attempt);
    else accepted.set(attempt.key, [attempt]);
  }
  let delivered = 0;
  let deadLettered = 0;
  let lost = 0;
  let unconfirmedDelivered = 0;
  for (const key of attempted) {
    const wasDelivered = (calls.get(key) ?? []).some(isSuccess);
    if (!accepted.has(key)) {
      if (wasDelivered) unconfirmedDelivered += 1;
      continue;
    }
    const letters = (deadLetters.get(key) ?? []).filter((l) => l.group === input.groups.alerts);
    const wrongId = accepted.get(key)!.filter((a) => a.eventId !== key);
    if (wrongId.length > 0) {
      violations.push({
        invariant: 'accepted-is-delivered-or-dead-lettered',
        subject: key,
        detail: `the 202 named eventId ${JSON.stringify(wrongId[0].eventId)}, not the Idempotency-Key`,
      });
    }
    if (wasDelivered) delivered += 1;
    else if (letters.length > 0) deadLettered += 1;
    else {
      lost += 1;
      violations.push({
        invariant: 'accepted-is-delivered-or-dead-lettered',
        subject: key,
        detail: `accepted, never delivered, not dead-lettered: ${explain(key)}`,
      });
    }
  }

  // Ordered events: a confirmed publish is the promise; order per key on top.
  const orderedByEventId = new Map<string, OrderedPublish>();
  for (const publish of input.ordered) {
    const known = orderedByEventId.get(publish.eventId);
    if (!known || (!known.ok && publish.ok)) orderedByEventId.set(publish.eventId, publish);
  }
  let orderedPublished = 0;
  let orderedDelivered = 0;
  let orderedDeadLettered = 0;
  let orderedLost = 0;
  for (const [eventId, publish] of orderedByEventId) {
    if (!publish.ok) continue;
    orderedPublished += 1;
    const letters = (deadLetters.get(eventId) ?? []).filter(
      (l) => l.group === input.groups.ordered,
    );
    if ((calls.get(eventId) ?? []).some(isSuccess)) orderedDelivered += 1;
    else if (letters.length > 0) orderedDeadLettered += 1;
    else {
      orderedLost += 1;
      violations.push({
        invariant: 'accepted-is-delivered-or-dead-lettered',
        subject: eventId,
        detail: `ordered event published (${publish.entryId} in ${publish.stream}), never delivered, not dead-lettered: ${explain(eventId)}`,
      });
    }
  }
  const outOfOrder = checkOrder(
    input,
    orderedByEventId,
    calls,
    deadLetters,
    violations,
    explain,
    t,
  );

  // Dead letters: never for the system's own fault, and final.
  let deadLetteredInfra = 0;
  let deliveredAndDeadLettered = 0;
  const deadLetterReasons: Record<string, number> = {};
  for (const letter of input.state.deadLetters) {
    const reason = `${letter.group}: ${letter.reason.replace(/\d+/g, 'N').slice(0, 120)}`;
    deadLetterReasons[reason] = (deadLetterReasons[reason] ?? 0) + 1;
    if (isInfrastructureReason(letter.reason)) {
      deadLetteredInfra += 1;
      violations.push({
        invariant: 'no-dead-letter-for-infrastructure',
        subject: letter.eventId,
        detail: `${letter.stream}/${letter.group} dead-lettered ${letter.originalId} by ${letter.consumer} after ${letter.attempts} attempt(s): ${letter.reason}; ${explain(letter.eventId)}`,
      });
    }
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
      deliveredAndDeadLettered += 1;
    }
  }

  // What is left in Redis.
  const names = entryNamesOf(input);
  for (const group of input.state.groups) {
    if (group.pending > 0) {
      violations.push({
        invariant: 'nothing-left-pending',
        subject: `${group.stream}/${group.group}`,
        detail: `${group.pending} pending: ${group.pendingEntries
          .slice(0, 10)
          .map(
            (p) =>
              `${names(group.stream, p.id)} on ${p.consumer}, idle ${p.idleMs} ms, ${p.deliveries} deliveries`,
          )
          .join('; ')}`,
      });
    }
    if (group.behind) {
      violations.push({
        invariant: 'nothing-left-pending',
        subject: `${group.stream}/${group.group}`,
        detail: `has read up to ${group.lastDeliveredId} only: entries after it were never read`,
      });
    }
  }
  for (const [key, members] of Object.entries(input.state.retries)) {
    violations.push({
      invariant: 'no-retries-left',
      subject: key,
      detail: `${members.length} member(s): ${members
        .slice(0, 10)
        .map((id) => names(streamOfKey(key, ':retries:'), id))
        .join(', ')}`,
    });
  }
  for (const [key, fields] of Object.entries(input.state.attempts)) {
    const ids = Object.keys(fields);
    violations.push({
      invariant: 'no-attempts-left',
      subject: key,
      detail: `${ids.length} field(s): ${ids
        .slice(0, 10)
        .map((id) => `${names(streamOfKey(key, ':attempts:'), id)}=${fields[id]}`)
        .join(', ')}`,
    });
  }
  const { leases, members, runningMarkers } = input.afterShutdown;
  for (const [key, holder] of Object.entries(leases)) {
    violations.push({ invariant: 'no-leases-left', subject: key, detail: `held by ${holder}` });
  }
  for (const [key, names] of Object.entries(members)) {
    violations.push({
      invariant: 'no-leases-left',
      subject: key,
      detail: `members ${names.join(', ')} after every process stopped`,
    });
  }
  for (const [key, value] of Object.entries(runningMarkers)) {
    violations.push({ invariant: 'no-leases-left', subject: key, detail: `still ${value}` });
  }

  // Processes.
  let crashes = 0;
  for (const exit of input.exits) {
    if (exit.cause === 'killed' || (exit.cause === 'terminated' && exit.code === 0)) continue;
    crashes += 1;
    violations.push({
      invariant: 'no-crash',
      subject: `${exit.process} (life ${exit.life})`,
      detail: `${exit.cause === 'terminated' ? 'on the final SIGTERM, exited' : 'ended by itself'} with code ${exit.code}, signal ${exit.signal}${exit.stderrTail ? `; stderr ends: ${exit.stderrTail}` : ''}`,
    });
  }

  // Calls for events nobody published.
  for (const key of calls.keys()) {
    if (attempted.has(key) || orderedByEventId.has(key)) continue;
    violations.push({
      invariant: 'no-phantom-delivery',
      subject: key,
      detail: `${calls.get(key)!.length} call(s) for an eventId never published`,
    });
  }

  let duplicates = 0;
  for (const list of calls.values()) {
    duplicates += Math.max(0, list.filter(isSuccess).length - 1);
  }
  const faults: Record<string, number> = {};
  for (const fault of input.faults) faults[fault.kind] = (faults[fault.kind] ?? 0) + 1;

  return {
    violations,
    figures: {
      faults,
      publishAttempts,
      accepted: accepted.size,
      delivered,
      unconfirmedDelivered,
      deadLettered,
      deadLetteredInfra,
      deadLetterReasons,
      deliveredAndDeadLettered,
      lost,
      duplicates,
      orderedPublished,
      orderedDelivered,
      orderedDeadLettered,
      orderedLost,
      outOfOrder,
      receiverCalls: input.calls.length,
      crashes,
      violations: violations.length,
    },
  };
}

/**
 * Per key, events are known to exist when their publish was confirmed, the receiver saw them, or
 * they were dead-lettered. Each one's first call must come after every earlier one of its key was
 * done: delivered (first 2xx) or dead-lettered. Calls of a stale owner that arrive late are no
 * harm: they come after the event was done. Returns how many events broke the order.
 */
function checkOrder(
  input: CheckInput,
  byEventId: Map<string, OrderedPublish>,
  calls: CallsByKey,
  deadLetters: Map<string, DeadLetterEntry[]>,
  violations: Violation[],
  explain: (key: string) => string,
  t: Clock,
): number {
  const perKey = new Map<string, OrderedPublish[]>();
  for (const publish of byEventId.values()) {
    const exists = publish.ok || calls.has(publish.eventId) || deadLetters.has(publish.eventId);
    if (!exists) continue;
    perKey.set(publish.key, [...(perKey.get(publish.key) ?? []), publish]);
  }
  let broken = 0;
  for (const [key, events] of perKey) {
    events.sort((a, b) => a.seq - b.seq);
    let doneBy = -Infinity;
    let notDone: OrderedPublish | undefined;
    for (const event of events) {
      const eventCalls = calls.get(event.eventId) ?? [];
      const firstCall = eventCalls[0]?.at;
      if (firstCall !== undefined) {
        if (notDone) {
          broken += 1;
          violations.push({
            invariant: 'ordered-per-key',
            subject: `${key} #${event.seq}`,
            detail: `${event.eventId} was handled, but the earlier ${notDone.eventId} never was: ${explain(notDone.eventId)}`,
          });
        } else if (firstCall < doneBy) {
          broken += 1;
          violations.push({
            invariant: 'ordered-per-key',
            subject: `${key} #${event.seq}`,
            detail: `${event.eventId} was first handled at ${t(firstCall)}, ${doneBy - firstCall} ms before an earlier event of ${key} was done: calls ${describeCalls(eventCalls, t)}`,
          });
        }
      }
      const success = eventCalls.find(isSuccess)?.at;
      const letter = (deadLetters.get(event.eventId) ?? []).find(
        (l) => l.group === input.groups.ordered,
      )?.at;
      const done = Math.min(success ?? Infinity, letter ?? Infinity);
      if (done === Infinity) notDone ??= event;
      else doneBy = Math.max(doneBy, done);
    }
  }
  return broken;
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const list = groups.get(keyOf(item));
    if (list) list.push(item);
    else groups.set(keyOf(item), [item]);
  }
  return groups;
}

/**
 * Names an entry of a stream by its eventId, when the history knows it (202s, ordered publishes,
 * the alerts stream): `1718000000000-0 (a1-42)`. Entry ids repeat across streams, hence the stream.
 */
function entryNamesOf(input: CheckInput): (stream: string, id: string) => string {
  const names = new Map<string, string>();
  for (const [id, eventId] of input.alertsEntries ?? []) names.set(`alerts ${id}`, eventId);
  for (const p of input.publishes) if (p.entryId) names.set(`alerts ${p.entryId}`, p.key);
  for (const p of input.ordered) if (p.entryId) names.set(`${p.stream} ${p.entryId}`, p.eventId);
  return (stream, id) => {
    const name = names.get(`${stream} ${id}`);
    return name ? `${id} (${name})` : id;
  };
}

/** The stream a bookkeeping key belongs to: `alerts:{3}:attempts:g` is of `alerts:{3}`. */
function streamOfKey(key: string, marker: string): string {
  return key.slice(0, key.indexOf(marker));
}

function describeCalls(calls: readonly WebhookRequest[], t: Clock): string {
  if (calls.length === 0) return 'none';
  const shown = calls
    .slice(0, 8)
    .map((c) => `${c.status ?? 'held'}@${t(c.at)}`)
    .join(' ');
  return calls.length > 8 ? `${shown} ... (${calls.length})` : shown;
}

/** Where an event got to, in one line: publishes, stream entry, pending, calls, dead letters, faults. */
function evidence(
  input: CheckInput,
  calls: CallsByKey,
  deadLetters: Map<string, DeadLetterEntry[]>,
  t: Clock,
): (key: string) => string {
  const publishesOf = groupBy(input.publishes, (p) => p.key);
  const orderedOf = groupBy(input.ordered, (p) => p.eventId);
  return (key) => {
    const publishes = publishesOf.get(key) ?? [];
    const ordered = orderedOf.get(key) ?? [];
    const entryIds = new Set(
      [...publishes, ...ordered].map((p) => p.entryId).filter((id): id is string => !!id),
    );
    const parts: string[] = [];
    if (publishes.length > 0) {
      parts.push(
        `POSTs ${publishes.map((p) => `${p.outcome}${p.status ? ` ${p.status}` : ''} via ${p.process} at ${t(p.at)}`).join(', ')}`,
      );
    }
    if (ordered.length > 0) {
      parts.push(
        `publishes ${ordered.map((p) => `${p.ok ? 'ok' : `failed (${p.error})`} at ${t(p.at)}`).join(', ')}`,
      );
    }
    const ids = [...entryIds];
    parts.push(`entry ${ids.join(', ') || 'unknown'}`);
    if (input.alertsEntries && ids.length > 0 && publishes.length > 0) {
      const kept = ids.filter((id) => input.alertsEntries!.has(id));
      parts.push(kept.length > 0 ? 'still in the stream' : 'no longer in the stream');
    }
    const pending = input.state.groups.flatMap((g) =>
      g.pendingEntries
        .filter((p) => entryIds.has(p.id))
        .map(
          (p) =>
            `pending in ${g.stream}/${g.group} on ${p.consumer} (${p.deliveries} deliveries, idle ${p.idleMs} ms)`,
        ),
    );
    parts.push(
      pending.length > 0 ? pending.join('; ') : 'not among the oldest pending entries of any group',
    );
    const retries = Object.entries(input.state.retries)
      .filter(([, members]) => members.some((m) => entryIds.has(m)))
      .map(([k]) => k);
    if (retries.length > 0) parts.push(`scheduled in ${retries.join(', ')}`);
    const attempts = Object.entries(input.state.attempts).flatMap(([k, fields]) =>
      ids.filter((id) => fields[id] !== undefined).map((id) => `${k}[${id}]=${fields[id]}`),
    );
    if (attempts.length > 0) parts.push(`attempts ${attempts.join(', ')}`);
    parts.push(`receiver calls ${describeCalls(calls.get(key) ?? [], t)}`);
    const letters = deadLetters.get(key) ?? [];
    if (letters.length > 0) {
      parts.push(
        `dead letters ${letters.map((l) => `${l.group} at ${t(l.at)} by ${l.consumer}: ${l.reason.slice(0, 120)}`).join('; ')}`,
      );
    }
    const times = [
      ...publishes.map((p) => p.at),
      ...ordered.map((p) => p.at),
      ...(calls.get(key) ?? []).map((c) => c.at),
    ];
    if (times.length > 0) {
      const from = Math.min(...times) - 2_000;
      const to = Math.max(...times) + 2_000;
      const around = input.faults.filter(
        (f) => f.startedAt <= to && (f.endedAt ?? Infinity) >= from,
      );
      parts.push(
        `faults around: ${around.map((f) => `${f.kind} ${f.targetName} ${t(f.startedAt)}..${f.endedAt === undefined ? 'end' : t(f.endedAt)}`).join(', ') || 'none'}`,
      );
    }
    return parts.join('; ');
  };
}
