import type { RedisClient } from '../redis/redis-connections.js';
import type { ConsumerState, RedisStreamsStatus } from '../redis-streams.status.js';
import { compareStreamIds } from '../stream-id.js';
import { streamKeys } from '../stream-keys.js';
import type { AppStreams } from './app-streams.js';

/** What one group still has to do, as Redis has it. */
export interface GroupBacklog {
  /** The Redis stream (a partition's own, e.g. `orders:{3}`). */
  stream: string;
  group: string;
  /** Entries not yet delivered to the group; null when Redis cannot count them (after deletions). */
  undelivered: number | null;
  /** Entries delivered and neither acknowledged nor dead-lettered: running, waiting, or retrying. */
  pending: number;
  /** Of those, how many wait for a scheduled retry, and when the next one is due (epoch ms). */
  retries: number;
  nextRetryAt?: number;
  /** The stream has entries but the group does not exist yet: its consumer has not started. */
  noGroup?: boolean;
}

/** Handler calls running in this app for one consumer. */
export interface RunningCalls {
  stream: string;
  group: string;
  inFlight: number;
}

/** Everything that keeps the app's streams from being idle. */
export interface Outstanding {
  groups: GroupBacklog[];
  running: RunningCalls[];
  /** Groups held back by flow control (paused, busy, circuit open), which explains a wait. */
  held: Array<{ stream: string; group: string; why: string }>;
}

/** Longest list of pending entries and scheduled retries one look reads per group. */
const LOOK_LIMIT = 1_000;

/**
 * Reads, from Redis and from the app's consumers, what its handlers' groups still have to do: the
 * facts `TestStreams.idle()` waits on, and names in its error. An entry is done once the group
 * has received it (nothing after its last-delivered-id) and it is no longer pending (acknowledged
 * or dead-lettered); a scheduled retry keeps it pending.
 */
export class OutstandingWork {
  constructor(
    private readonly redis: () => RedisClient,
    private readonly streams: AppStreams,
    private readonly status: RedisStreamsStatus,
  ) {}

  /**
   * What is not done yet. With `leaveScheduled`, an entry that waits for a retry due later counts
   * as done for now.
   */
  async read(leaveScheduled: boolean): Promise<Outstanding> {
    const byStream = new Map<string, string[]>();
    for (const { stream, group } of this.streams.groups()) {
      byStream.set(stream, [...(byStream.get(stream) ?? []), group]);
    }
    const now = Date.now();
    const looks = [...byStream].map(([stream, groups]) =>
      this.readStream(stream, groups, leaveScheduled, now),
    );
    const consumers = this.status.consumers();
    return {
      groups: (await Promise.all(looks)).flat(),
      running: consumers
        .filter((consumer) => consumer.inFlight > 0)
        .map(({ stream, group, inFlight }) => ({ stream, group, inFlight })),
      held: consumers.flatMap(({ stream, group, flow }) => {
        const why = heldBecause(flow);
        return why ? [{ stream, group, why }] : [];
      }),
    };
  }

  private async readStream(
    stream: string,
    groups: string[],
    leaveScheduled: boolean,
    now: number,
  ): Promise<GroupBacklog[]> {
    const redis = this.redis();
    const [infos, newest] = await Promise.all([
      redis.xinfo('GROUPS', stream).catch(noSuchKey) as Promise<unknown[][] | null>,
      redis.xrevrange(stream, '+', '-', 'COUNT', 1),
    ]);
    // No stream: nothing was published to it.
    if (infos === null) return [];
    const newestId: string | undefined = newest[0]?.[0];
    const infoOf = new Map(
      infos.map((flat) => toRecord(flat)).map((info) => [String(info.name), info]),
    );
    const backlogs: GroupBacklog[] = [];
    for (const group of groups) {
      const backlog = backlogOf(stream, group, infoOf.get(group), newestId);
      if (!backlog) continue;
      const laterIds =
        backlog.pending > 0 ? await this.readRetries(backlog, now) : new Set<string>();
      const doneForNow =
        leaveScheduled &&
        backlog.undelivered === 0 &&
        (await this.allWaitForRetry(backlog, laterIds));
      if (!doneForNow) backlogs.push(backlog);
    }
    return backlogs;
  }

  /** Fills in the group's scheduled retries; returns the ids of those due later than `now`. */
  private async readRetries(backlog: GroupBacklog, now: number): Promise<Set<string>> {
    const flat = await this.redis().zrange(
      streamKeys.retries(backlog.stream, backlog.group),
      0,
      String(LOOK_LIMIT - 1),
      'WITHSCORES',
    );
    const later = new Set<string>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const dueAt = Number(flat[i + 1]);
      backlog.retries += 1;
      backlog.nextRetryAt = Math.min(backlog.nextRetryAt ?? dueAt, dueAt);
      if (dueAt > now) later.add(flat[i]);
    }
    return later;
  }

  /** Whether every pending entry of the group waits for a retry due later. */
  private async allWaitForRetry(backlog: GroupBacklog, laterIds: Set<string>): Promise<boolean> {
    if (backlog.pending > laterIds.size || backlog.pending > LOOK_LIMIT) return false;
    const rows = (await this.redis().xpending(
      backlog.stream,
      backlog.group,
      '-',
      '+',
      LOOK_LIMIT,
    )) as Array<[string, ...unknown[]]>;
    return rows.every(([id]) => laterIds.has(id));
  }
}

/**
 * What a group has still to do, from its XINFO GROUPS row and the stream's newest entry id; none
 * when it has received everything and nothing is pending. Without a row the group does not exist
 * yet, which matters only once something was published.
 */
function backlogOf(
  stream: string,
  group: string,
  info: Record<string, unknown> | undefined,
  newestId: string | undefined,
): GroupBacklog | undefined {
  if (!info) {
    if (newestId === undefined) return undefined;
    return { stream, group, undelivered: null, pending: 0, retries: 0, noGroup: true };
  }
  const pending = Number(info.pending);
  // An entry newer than the last one delivered was not delivered; XDEL'd entries leave no trace.
  const behind =
    newestId !== undefined && compareStreamIds(newestId, String(info['last-delivered-id'])) > 0;
  if (!behind && pending === 0) return undefined;
  // Redis cannot always count the lag (null after deletions): then "some".
  const lag = Number(info.lag ?? 0);
  return { stream, group, undelivered: behind ? lag || null : 0, pending, retries: 0 };
}

/** One line per thing outstanding, for an error message. */
export function describeOutstanding({ groups, running, held }: Outstanding, now: number): string[] {
  const lines = groups.map((backlog) => {
    const where = `${backlog.stream} / ${backlog.group}`;
    if (backlog.noGroup)
      return `${where}: the group does not exist yet (has its consumer started?)`;
    const parts: string[] = [];
    if (backlog.undelivered !== 0) parts.push(`${backlog.undelivered ?? 'some'} not yet delivered`);
    if (backlog.pending > 0) parts.push(`${backlog.pending} pending`);
    if (backlog.retries > 0) {
      const next =
        backlog.nextRetryAt === undefined ? '' : `, next due ${dueIn(backlog.nextRetryAt, now)}`;
      parts.push(`${backlog.retries} waiting for a scheduled retry${next}`);
    }
    return `${where}: ${parts.join(', ')}`;
  });
  for (const { stream, group, inFlight } of running) {
    lines.push(`${stream} / ${group}: ${inFlight} handler call(s) running in this app`);
  }
  for (const { stream, group, why } of held) lines.push(`${stream} / ${group}: ${why}`);
  return lines;
}

function dueIn(dueAt: number, now: number): string {
  const ms = dueAt - now;
  return ms <= 0 ? 'now' : `in ${(ms / 1_000).toFixed(1)} s`;
}

function heldBecause(flow: ConsumerState['flow']): string | undefined {
  if (!flow) return undefined;
  if (flow.paused) return 'paused by hand (FlowControl): nothing starts until it is resumed';
  if (flow.circuit === 'open') return `circuit open after ${flow.failureStreak} failures in a row`;
  if (flow.busyUntil && Date.parse(flow.busyUntil) > Date.now())
    return `busy until ${flow.busyUntil}`;
  return undefined;
}

/** XINFO GROUPS of a stream that does not exist: null, nothing was published. */
function noSuchKey(error: Error): null {
  if (/no such key/i.test(error.message)) return null;
  throw error;
}

function toRecord(flat: unknown[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = flat[i + 1];
  return record;
}
