import type { Severity } from './alerts.constants.js';

/** Where an alert is on its way to the webhook. `delivered` and `dead-lettered` are final. */
export type DeliveryStatus = 'pending' | 'delivered' | 'dead-lettered';

/** How a delivered alert left the service: to the webhook, or only to the log when none is set. */
export type DeliveryChannel = 'webhook' | 'log';

/** What an alert says; fixed once the alert is recorded. */
export interface AlertContent {
  /** The stream entry id. */
  id?: string;
  message?: string;
  severity?: Severity;
  source?: string;
  labels?: Record<string, string>;
  /** ISO 8601 time the alert entered the service. */
  receivedAt?: string;
}

/** An alert and its delivery status, as `GET /alerts/:eventId` returns it. */
export interface AlertRecord extends AlertContent {
  eventId: string;
  status: DeliveryStatus;
  /** Delivery attempts made so far. */
  attempts: number;
  lastError?: string;
  deliveredVia?: DeliveryChannel;
  createdAt: string;
  updatedAt: string;
  deliveredAt?: string;
  deadLetteredAt?: string;
}

/** Record fields as stored in the Redis hash (all strings; labels as JSON). */
export const RECORD_FIELD = {
  eventId: 'eventId',
  id: 'id',
  message: 'message',
  severity: 'severity',
  source: 'source',
  labels: 'labels',
  receivedAt: 'receivedAt',
  status: 'status',
  attempts: 'attempts',
  lastError: 'lastError',
  deliveredVia: 'deliveredVia',
  createdAt: 'createdAt',
  updatedAt: 'updatedAt',
  deliveredAt: 'deliveredAt',
  deadLetteredAt: 'deadLetteredAt',
} as const;

/** Turns a stored hash into a record; undefined when the hash is empty (unknown or expired). */
export function toAlertRecord(hash: Record<string, string>): AlertRecord | undefined {
  if (!hash[RECORD_FIELD.eventId]) return undefined;
  const optional = (field: string): string | undefined => hash[field] || undefined;
  return {
    eventId: hash[RECORD_FIELD.eventId],
    id: optional(RECORD_FIELD.id),
    message: optional(RECORD_FIELD.message),
    severity: optional(RECORD_FIELD.severity) as Severity | undefined,
    source: optional(RECORD_FIELD.source),
    labels: parseLabels(hash[RECORD_FIELD.labels]),
    receivedAt: optional(RECORD_FIELD.receivedAt),
    status: (hash[RECORD_FIELD.status] || 'pending') as DeliveryStatus,
    attempts: Number(hash[RECORD_FIELD.attempts] ?? 0),
    lastError: optional(RECORD_FIELD.lastError),
    deliveredVia: optional(RECORD_FIELD.deliveredVia) as DeliveryChannel | undefined,
    createdAt: hash[RECORD_FIELD.createdAt],
    updatedAt: hash[RECORD_FIELD.updatedAt],
    deliveredAt: optional(RECORD_FIELD.deliveredAt),
    deadLetteredAt: optional(RECORD_FIELD.deadLetteredAt),
  };
}

function parseLabels(json: string | undefined): Record<string, string> | undefined {
  if (!json) return undefined;
  try {
    return JSON.parse(json) as Record<string, string>;
  } catch {
    return undefined;
  }
}
