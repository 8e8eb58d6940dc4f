import { entryTime } from './alert-content.js';
import type { AlertStatus, Severity } from './alerts.constants.js';

/** Where an alert is on its way to the webhook. `delivered` and `dead-lettered` are final. */
export type DeliveryStatus = 'pending' | 'delivered' | 'dead-lettered';

/** How a delivered alert left the service: to the webhook, or only to the log when none is set. */
export type DeliveryChannel = 'webhook' | 'log';

/** Where an alert's stream entry is: a `PublishResult` or a `StreamMessage` says it. */
export interface AlertLocation {
  /** The stream, or the partition of it (`alerts:{3}`). */
  stream: string;
  /** The entry id. */
  id: string;
}

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
  /**
   * `firing` or `resolved`, for an alert relayed from Alertmanager or Grafana (a resolve is an
   * event of its own, with its own eventId); absent for other alerts, which are firing.
   */
  alertStatus?: AlertStatus;
  /** When the alert began firing, as its source says (ISO 8601). */
  startsAt?: string;
  /** When a resolved alert stopped firing (ISO 8601). */
  endsAt?: string;
  /** Alertmanager's fingerprint of the alert (its label set), the same in its firing and its resolve. */
  fingerprint?: string;
  /** Where the alert comes from: the Prometheus expression or the Grafana rule. */
  generatorURL?: string;
  /** Alertmanager's annotations (`summary`, `description`, `runbook_url`...). */
  annotations?: Record<string, string>;
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
  /**
   * True once retention has removed the alert's stream entry (and it has no dead letter to show
   * instead): the content fields are gone, the status and times stay until the record expires.
   */
  contentTrimmed?: boolean;
}

/**
 * Field names of the record hash. One hash per alert lives for days, so they are one letter, and
 * the hash holds only what the stream entry lacks: the alert's content is read from its entry.
 */
export const RECORD_FIELD = {
  /** Entry id of the alert. */
  entry: 'i',
  /** Its stream, when it is not `alerts` (a partition). */
  stream: 'q',
  /** Delivery state, one of RECORD_STATE. */
  state: 's',
  attempts: 'a',
  lastError: 'e',
  /** Time of the last change, ms since the epoch. */
  changedAt: 't',
  /** Entry id of its dead letter, in the dead-letter stream of its stream. */
  deadLetter: 'x',
} as const;

/** Values of RECORD_FIELD.state: delivery status and, once delivered, the channel. */
export const RECORD_STATE = {
  pending: 'p',
  deliveredToWebhook: 'w',
  deliveredToLog: 'l',
  deadLettered: 'x',
} as const;
export type RecordState = (typeof RECORD_STATE)[keyof typeof RECORD_STATE];

/** A record hash as stored, before its content is read from the stream. */
export interface StoredRecord {
  eventId: string;
  location: AlertLocation;
  state: RecordState;
  attempts: number;
  lastError?: string;
  changedAt: number;
  /** Entry id of the dead letter, in the dead-letter stream of `location.stream`. */
  deadLetterId?: string;
  /** Content fields of a record written before records were compact (0.x), if any. */
  legacyContent?: AlertContent;
}

export function statusOf(state: RecordState): DeliveryStatus {
  if (state === RECORD_STATE.pending) return 'pending';
  return state === RECORD_STATE.deadLettered ? 'dead-lettered' : 'delivered';
}

/**
 * Reads a stored hash: a compact record, or one written before records were compact (long field
 * names, the content inside), kept readable until it expires. Undefined when the hash is empty.
 */
export function parseRecord(
  eventId: string,
  hash: Record<string, string>,
  defaultStream: string,
): StoredRecord | { legacy: AlertRecord } | undefined {
  const entry = hash[RECORD_FIELD.entry];
  const state = hash[RECORD_FIELD.state] as RecordState | undefined;
  if (entry === undefined || state === undefined) {
    const legacy = toLegacyRecord(hash);
    return legacy ? { legacy } : undefined;
  }
  return {
    eventId,
    location: { stream: hash[RECORD_FIELD.stream] || defaultStream, id: entry },
    state,
    attempts: Number(hash[RECORD_FIELD.attempts] ?? 0),
    lastError: hash[RECORD_FIELD.lastError] || hash[LEGACY.lastError] || undefined,
    changedAt: Number(hash[RECORD_FIELD.changedAt]),
    deadLetterId: hash[RECORD_FIELD.deadLetter] || undefined,
    legacyContent: hash[LEGACY.eventId] ? legacyContent(hash) : undefined,
  };
}

/**
 * The record as the API shows it: the stored state and, when the stream (or the dead-letter
 * stream) still has the entry, its content. Times the record does not store come from entry ids:
 * created with the entry, dead-lettered with the dead letter.
 */
export function toAlertRecord(
  stored: StoredRecord,
  content: AlertContent | undefined,
): AlertRecord {
  const { state } = stored;
  const status = statusOf(state);
  const changedAt = new Date(stored.changedAt).toISOString();
  const shown = content ?? stored.legacyContent;
  return {
    ...shown,
    id: stored.location.id,
    receivedAt: shown?.receivedAt ?? entryTime(stored.location.id),
    eventId: stored.eventId,
    status,
    attempts: stored.attempts,
    lastError: stored.lastError,
    deliveredVia:
      status !== 'delivered'
        ? undefined
        : state === RECORD_STATE.deliveredToLog
          ? 'log'
          : 'webhook',
    createdAt: entryTime(stored.location.id) ?? changedAt,
    updatedAt: changedAt,
    deliveredAt: status === 'delivered' ? changedAt : undefined,
    deadLetteredAt: stored.deadLetterId ? entryTime(stored.deadLetterId) : undefined,
    contentTrimmed: shown === undefined ? true : undefined,
  };
}

/** Field names of records written before they were compact. */
const LEGACY = {
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

function legacyContent(hash: Record<string, string>): AlertContent {
  const optional = (field: string): string | undefined => hash[field] || undefined;
  return {
    id: optional(LEGACY.id),
    message: optional(LEGACY.message),
    severity: optional(LEGACY.severity) as Severity | undefined,
    source: optional(LEGACY.source),
    labels: parseLabels(hash[LEGACY.labels]),
    receivedAt: optional(LEGACY.receivedAt),
  };
}

function toLegacyRecord(hash: Record<string, string>): AlertRecord | undefined {
  if (!hash[LEGACY.eventId]) return undefined;
  const optional = (field: string): string | undefined => hash[field] || undefined;
  return {
    ...legacyContent(hash),
    eventId: hash[LEGACY.eventId],
    status: (hash[LEGACY.status] || 'pending') as DeliveryStatus,
    attempts: Number(hash[LEGACY.attempts] ?? 0),
    lastError: optional(LEGACY.lastError),
    deliveredVia: optional(LEGACY.deliveredVia) as DeliveryChannel | undefined,
    createdAt: hash[LEGACY.createdAt],
    updatedAt: hash[LEGACY.updatedAt],
    deliveredAt: optional(LEGACY.deliveredAt),
    deadLetteredAt: optional(LEGACY.deadLetteredAt),
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
