import { entryTime } from './alert-content.js';
import type { AlertStatus, Severity } from './alerts.constants.js';

/**
 * Where an alert is on its way to its receivers. `delivered` and `dead-lettered` are final;
 * `unrouted`: no receiver of ALERTS_RECEIVERS_FILE takes it, which is no error.
 */
export type DeliveryStatus = 'pending' | 'delivered' | 'dead-lettered' | 'unrouted';

/** One receiver's part of an alert's delivery (with a receivers file). */
export interface ReceiverDeliveryStatus {
  name: string;
  status: Exclude<DeliveryStatus, 'unrouted'>;
  attempts: number;
  lastError?: string;
  updatedAt?: string;
  deadLetteredAt?: string;
}

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
  /**
   * With a receivers file: each receiver that takes the alert, with its own status (empty when
   * none does: the status is then `unrouted`). `status` sums them up: `dead-lettered` when any
   * receiver's is, `delivered` when all are, `pending` until then.
   */
  receivers?: ReceiverDeliveryStatus[];
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
  /** The receivers that take the alert, comma-separated; empty: none (with a receivers file). */
  routes: 'm',
  /** Prefix of one field per receiver: `<state>|<attempts>|<changed at>|<dead letter>|<error>`. */
  receiverPrefix: 'r:',
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
  /** The receivers that take the alert, once the recorder routed it. */
  routes?: string[];
  /** Each receiver's own status, by name, as far as it was written. */
  receivers?: Record<string, StoredReceiverStatus>;
}

/** One `r:<name>` field of the record. */
export interface StoredReceiverStatus {
  state: RecordState;
  attempts: number;
  changedAt?: number;
  deadLetterId?: string;
  lastError?: string;
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
    ...receiverFields(hash),
  };
}

function receiverFields(hash: Record<string, string>): Pick<StoredRecord, 'routes' | 'receivers'> {
  const routes = hash[RECORD_FIELD.routes];
  const receivers: Record<string, StoredReceiverStatus> = {};
  for (const [field, value] of Object.entries(hash)) {
    if (!field.startsWith(RECORD_FIELD.receiverPrefix)) continue;
    const found = /^([a-z])\|(\d+)\|(\d*)\|([^|]*)\|(.*)$/s.exec(value);
    if (!found) continue;
    const [, state, attempts, changedAt, deadLetterId, lastError] = found;
    receivers[field.slice(RECORD_FIELD.receiverPrefix.length)] = {
      state: state as RecordState,
      attempts: Number(attempts),
      changedAt: changedAt ? Number(changedAt) : undefined,
      deadLetterId: deadLetterId || undefined,
      lastError: lastError || undefined,
    };
  }
  const split = routes === undefined ? undefined : routes === '' ? [] : routes.split(',');
  return Object.keys(receivers).length > 0 || split !== undefined
    ? { routes: split, receivers }
    : {};
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
  const record = toSingleRecord(stored, content);
  return stored.receivers === undefined ? record : withReceivers(record, stored);
}

function toSingleRecord(stored: StoredRecord, content: AlertContent | undefined): AlertRecord {
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

/**
 * The record of an alert with a receivers file: its receivers' statuses, and an overall status,
 * attempts and last error made from them (the record's own fields only say what happened last).
 */
function withReceivers(record: AlertRecord, stored: StoredRecord): AlertRecord {
  const written = stored.receivers ?? {};
  // Until the recorder has routed it, the receivers that wrote are all that is known.
  const names = [...new Set([...(stored.routes ?? []), ...Object.keys(written)])];
  const receivers = names.map((name): ReceiverDeliveryStatus => {
    const own = written[name];
    const status = own ? (statusOf(own.state) as ReceiverDeliveryStatus['status']) : 'pending';
    return {
      name,
      status,
      attempts: own?.attempts ?? 0,
      lastError: status === 'delivered' ? undefined : own?.lastError,
      updatedAt: own?.changedAt ? new Date(own.changedAt).toISOString() : undefined,
      deadLetteredAt: own?.deadLetterId ? entryTime(own.deadLetterId) : undefined,
    };
  });
  const statuses = receivers.map((receiver) => receiver.status);
  const status: DeliveryStatus =
    stored.routes?.length === 0 && receivers.length === 0
      ? 'unrouted'
      : statuses.includes('dead-lettered')
        ? 'dead-lettered'
        : statuses.length > 0 && statuses.every((s) => s === 'delivered')
          ? 'delivered'
          : 'pending';
  const failing = receivers.filter((receiver) => receiver.lastError !== undefined);
  return {
    ...record,
    status,
    attempts: Math.max(record.attempts, ...receivers.map((receiver) => receiver.attempts)),
    lastError: (failing.find((r) => r.status === 'dead-lettered') ?? failing[0])?.lastError,
    deliveredVia: status === 'delivered' ? 'webhook' : undefined,
    deliveredAt: status === 'delivered' ? record.updatedAt : undefined,
    receivers,
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
