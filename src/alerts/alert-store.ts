import { Injectable } from '@nestjs/common';
import {
  RedisConnections,
  streamKeys,
  type RedisClient,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { ALERT_STORE, ALERTS_STREAM } from './alerts.constants.js';
import { contentFromFields } from './alert-content.js';
import {
  RECORD_STATE,
  parseRecord,
  statusOf,
  toAlertRecord,
  type AlertContent,
  type AlertLocation,
  type AlertRecord,
  type DeliveryChannel,
  type DeliveryStatus,
  type RecordState,
  type StoredRecord,
} from './alert-record.js';
import { INDEX_RECENT, UPSERT_RECORD } from './alert-store.script.js';

interface RecordChange {
  state?: Exclude<RecordState, 'p'>;
  attempts?: number;
  lastError?: string;
  deadLetterId?: string;
}

/**
 * Alerts and their delivery status in Redis: one small hash per alert (`alerts:record:<eventId>`,
 * kept 7 days after its last change) that points at the alert's stream entry, and a sorted set of
 * the most recent ones (`alerts:recent`, scored by the time the alert was received). The content
 * is not stored twice: reads take it from the stream entry, or from the dead letter once retention
 * trimmed the entry, and show the status alone (`contentTrimmed`) when neither is left.
 */
@Injectable()
export class AlertStore {
  private readonly redis: RedisClient;

  constructor(connections: RedisConnections) {
    this.redis = connections.command;
  }

  /**
   * The intake just appended the alert: its record is new, so the index of recent alerts is
   * written at the same time rather than after it.
   */
  recordAccepted(eventId: string, at: AlertLocation): Promise<DeliveryStatus> {
    return this.write(eventId, at, {}, 'with the record');
  }

  /** The alert was received; it stays pending unless a handler already finished it. */
  recordReceived(eventId: string, at: AlertLocation): Promise<DeliveryStatus> {
    return this.write(eventId, at, {});
  }

  /** An attempt to deliver failed; it may be retried. */
  recordFailedAttempt(
    eventId: string,
    at: AlertLocation,
    attempt: number,
    error: string,
  ): Promise<DeliveryStatus> {
    return this.write(eventId, at, { attempts: attempt, lastError: error });
  }

  recordDelivered(
    eventId: string,
    at: AlertLocation,
    attempt: number,
    via: DeliveryChannel,
  ): Promise<DeliveryStatus> {
    const state = via === 'log' ? RECORD_STATE.deliveredToLog : RECORD_STATE.deliveredToWebhook;
    return this.write(eventId, at, { state, attempts: attempt });
  }

  /** Delivery was given up: the entry is in the dead-letter stream, as `deadLetterId`. */
  recordDeadLettered(
    eventId: string,
    at: AlertLocation,
    attempts: number,
    reason: string,
    deadLetterId: string,
  ): Promise<DeliveryStatus> {
    return this.write(eventId, at, {
      state: RECORD_STATE.deadLettered,
      attempts,
      lastError: reason,
      deadLetterId,
    });
  }

  /** Where the alert with this eventId is, if it has a record; its content is not read. */
  async locate(eventId: string): Promise<AlertLocation | undefined> {
    const stored = parseRecord(
      eventId,
      await this.redis.hgetall(recordKey(eventId)),
      ALERTS_STREAM,
    );
    if (stored === undefined) return undefined;
    if (!('legacy' in stored)) return stored.location;
    return stored.legacy.id ? { stream: ALERTS_STREAM, id: stored.legacy.id } : undefined;
  }

  async find(eventId: string): Promise<AlertRecord | undefined> {
    return this.show(eventId, await this.redis.hgetall(recordKey(eventId)));
  }

  /** The most recent alerts, newest first; records that expired meanwhile are left out. */
  async recent(limit: number): Promise<AlertRecord[]> {
    const eventIds = await this.redis.zrevrange(ALERT_STORE.recentKey, 0, limit - 1);
    if (eventIds.length === 0) return [];
    // One command per record, sent together: on Cluster the records live on different nodes, which
    // one pipeline cannot reach.
    const hashes = await Promise.all(
      eventIds.map((eventId) => this.redis.hgetall(recordKey(eventId))),
    );
    const records = await Promise.all(hashes.map((hash, i) => this.show(eventIds[i], hash)));
    return records.filter((record): record is AlertRecord => record !== undefined);
  }

  private async show(
    eventId: string,
    hash: Record<string, string>,
  ): Promise<AlertRecord | undefined> {
    const stored = parseRecord(eventId, hash, ALERTS_STREAM);
    if (stored === undefined) return undefined;
    if ('legacy' in stored) return stored.legacy;
    return toAlertRecord(stored, await this.content(stored));
  }

  /** The alert's content from its stream entry, else from its dead letter; undefined when both are gone. */
  private async content(stored: StoredRecord): Promise<AlertContent | undefined> {
    const { stream, id } = stored.location;
    const entry = await this.entryFields(stream, id);
    if (entry) return contentFromFields(entry, id);
    if (stored.deadLetterId === undefined) return undefined;
    const deadLetter = await this.entryFields(streamKeys.deadLetter(stream), stored.deadLetterId);
    return deadLetter && contentFromFields(deadLetter, id);
  }

  private async entryFields(
    stream: string,
    id: string,
  ): Promise<Record<string, string> | undefined> {
    const [entry] = await this.redis.xrange(stream, id, id);
    if (!entry) return undefined;
    const [, flat] = entry;
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]] = flat[i + 1];
    return fields;
  }

  /**
   * Upserts the record, and adds it to the index of recent alerts when the write created it: a
   * record that existed was indexed by the write that created it, so the recorder's and the
   * handlers' later writes cost one script call each instead of two. The intake, whose records are
   * new, sends both at once (`'with the record'`).
   */
  private async write(
    eventId: string,
    at: AlertLocation,
    change: RecordChange,
    index: 'with the record' | 'when created' = 'when created',
  ): Promise<DeliveryStatus> {
    const now = Date.now();
    const args = [
      String(ALERT_STORE.recordTtlMs),
      String(now),
      at.stream === ALERTS_STREAM ? '' : at.stream,
      at.id,
      change.state ?? '',
      change.attempts === undefined ? '' : String(change.attempts),
      change.lastError === undefined ? '' : truncate(change.lastError),
      change.deadLetterId ?? '',
    ];
    // Two keys, two commands: each is atomic on its own and stays in one Cluster slot.
    const upsert = UPSERT_RECORD.run<[Buffer, number]>(this.redis, [recordKey(eventId)], args);
    const indexIt = () => this.index(eventId, entryTimeMs(at.id) ?? now, now);
    let state: Buffer;
    if (index === 'with the record') {
      [[state]] = await Promise.all([upsert, indexIt()]);
    } else {
      let created: number;
      [state, created] = await upsert;
      if (created === 1) await indexIt();
    }
    return statusOf(String(state) as RecordState);
  }

  private async index(eventId: string, score: number, now: number): Promise<void> {
    await INDEX_RECENT.run(
      this.redis,
      [ALERT_STORE.recentKey],
      [
        score,
        eventId,
        ALERT_STORE.recentMaxEntries,
        now - ALERT_STORE.recordTtlMs,
        ALERT_STORE.recordTtlMs,
      ],
    );
  }
}

function recordKey(eventId: string): string {
  return `${ALERT_STORE.recordKeyPrefix}${eventId}`;
}

/** When the alert was received: the time in its entry id (Redis appended it then). */
function entryTimeMs(id: string): number | undefined {
  const ms = Number(id.split('-')[0]);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

function truncate(text: string): string {
  return text.length > ALERT_STORE.maxErrorLength
    ? `${text.slice(0, ALERT_STORE.maxErrorLength)}…`
    : text;
}
