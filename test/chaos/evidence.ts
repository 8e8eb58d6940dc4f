import type { WebhookRequest } from '../faults/recording-webhook.js';
import { groupBy } from './history.js';
import type { CheckInput } from './invariants.js';
import type { DeadLetterEntry } from './redis-state.js';

/** Faults listed in the evidence of one event. */
const FAULTS_SHOWN = 8;

/** A time as the evidence shows it. */
export type Clock = (at: number) => string;

/**
 * Names an entry of a stream by its eventId, when the history knows it (202s, ordered publishes,
 * the alerts stream): `1718000000000-0 (a1-42)`. Entry ids repeat across streams, hence the stream.
 */
export function entryNamesOf(input: CheckInput): (stream: string, id: string) => string {
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
export function streamOfKey(key: string, marker: string): string {
  return key.slice(0, key.indexOf(marker));
}

export function describeCalls(calls: readonly WebhookRequest[], t: Clock): string {
  if (calls.length === 0) return 'none';
  const shown = calls
    .slice(0, 8)
    .map((c) => `${c.status ?? 'held'}@${t(c.at)}`)
    .join(' ');
  return calls.length > 8 ? `${shown} ... (${calls.length})` : shown;
}

/** Where an event got to, in one line: publishes, stream entry, pending, calls, dead letters, faults. */
export function evidence(
  input: CheckInput,
  calls: ReadonlyMap<string, WebhookRequest[]>,
  deadLetters: ReadonlyMap<string, DeadLetterEntry[]>,
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
    // Where the trouble started: the faults active around the time the event was published.
    const first = Math.min(...publishes.map((p) => p.at), ...ordered.map((p) => p.at));
    if (first !== Infinity) {
      const from = first - 2_000;
      const to = first + 3_000;
      const around = input.faults.filter(
        (f) => f.startedAt <= to && (f.endedAt ?? Infinity) >= from,
      );
      const shown = around
        .slice(0, FAULTS_SHOWN)
        .map(
          (f) =>
            `${f.kind} ${f.targetName} ${t(f.startedAt)}..${f.endedAt === undefined ? 'end' : t(f.endedAt)}`,
        );
      if (around.length > FAULTS_SHOWN) shown.push(`${around.length - FAULTS_SHOWN} more`);
      parts.push(`faults around it: ${shown.join(', ') || 'none'}`);
    }
    return parts.join('; ');
  };
}
