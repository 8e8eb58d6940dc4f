import { Injectable } from '@nestjs/common';
import { RedisConnections, type RedisClient } from '../redis-streams/index.js';
import { ALERT_STORE } from './alerts.constants.js';
import {
  RECORD_FIELD,
  toAlertRecord,
  type AlertContent,
  type AlertRecord,
  type DeliveryChannel,
  type DeliveryStatus,
} from './alert-record.js';
import { INDEX_RECENT, UPSERT_RECORD } from './alert-store.script.js';

interface RecordChange {
  status?: Exclude<DeliveryStatus, 'pending'>;
  attempts?: number;
  lastError?: string;
  deliveredVia?: DeliveryChannel;
}

/**
 * Alerts and their delivery status in Redis: one hash per alert (`alerts:record:<eventId>`, kept
 * 7 days after its last change) and a sorted set of the most recent ones (`alerts:recent`, scored
 * by the time the alert was received). Every write carries the alert's content, so whichever
 * handler writes first creates a complete record.
 */
@Injectable()
export class AlertStore {
  private readonly redis: RedisClient;

  constructor(connections: RedisConnections) {
    this.redis = connections.command;
  }

  /** The alert was received; it stays pending unless a handler already finished it. */
  recordReceived(eventId: string, content: AlertContent): Promise<DeliveryStatus> {
    return this.write(eventId, content, {});
  }

  /** An attempt to deliver failed; it may be retried. */
  recordFailedAttempt(
    eventId: string,
    content: AlertContent,
    attempt: number,
    error: string,
  ): Promise<DeliveryStatus> {
    return this.write(eventId, content, { attempts: attempt, lastError: error });
  }

  recordDelivered(
    eventId: string,
    content: AlertContent,
    attempt: number,
    via: DeliveryChannel,
  ): Promise<DeliveryStatus> {
    return this.write(eventId, content, {
      status: 'delivered',
      attempts: attempt,
      deliveredVia: via,
    });
  }

  /** Delivery was given up: the entry is in the dead-letter stream. */
  recordDeadLettered(
    eventId: string,
    content: AlertContent,
    attempts: number,
    reason: string,
  ): Promise<DeliveryStatus> {
    return this.write(eventId, content, { status: 'dead-lettered', attempts, lastError: reason });
  }

  async find(eventId: string): Promise<AlertRecord | undefined> {
    return toAlertRecord(await this.redis.hgetall(recordKey(eventId)));
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
    const records: AlertRecord[] = [];
    for (const hash of hashes) {
      const record = toAlertRecord(hash);
      if (record) records.push(record);
    }
    return records;
  }

  private async write(
    eventId: string,
    content: AlertContent,
    change: RecordChange,
  ): Promise<DeliveryStatus> {
    const now = Date.now();
    const args = [
      String(ALERT_STORE.recordTtlMs),
      new Date(now).toISOString(),
      eventId,
      change.status ?? '',
      change.attempts === undefined ? '' : String(change.attempts),
      change.lastError === undefined ? '' : truncate(change.lastError),
      change.deliveredVia ?? '',
      ...contentFields(content),
    ];
    // Two keys, two commands: each is atomic on its own and stays in one Cluster slot.
    const [status] = await Promise.all([
      UPSERT_RECORD.run<Buffer>(this.redis, [recordKey(eventId)], args),
      this.index(eventId, receivedTime(content) ?? now, now),
    ]);
    return String(status) as DeliveryStatus;
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

function contentFields(content: AlertContent): string[] {
  const fields: Array<[string, string | undefined]> = [
    [RECORD_FIELD.id, content.id],
    [RECORD_FIELD.message, content.message],
    [RECORD_FIELD.severity, content.severity],
    [RECORD_FIELD.source, content.source],
    [RECORD_FIELD.labels, content.labels && JSON.stringify(content.labels)],
    [RECORD_FIELD.receivedAt, content.receivedAt],
  ];
  return fields.flatMap(([name, value]) => (value === undefined ? [] : [name, value]));
}

/** When the alert was received: its `receivedAt`, or else the time in its stream entry id. */
function receivedTime(content: AlertContent): number | undefined {
  const received = content.receivedAt ? Date.parse(content.receivedAt) : NaN;
  if (!Number.isNaN(received)) return received;
  const fromId = content.id ? Number(content.id.split('-')[0]) : NaN;
  return Number.isFinite(fromId) ? fromId : undefined;
}

function truncate(text: string): string {
  return text.length > ALERT_STORE.maxErrorLength
    ? `${text.slice(0, ALERT_STORE.maxErrorLength)}…`
    : text;
}
