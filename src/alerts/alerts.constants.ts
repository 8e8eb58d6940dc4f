/** The stream every alert goes through, and its consumer groups. */
export const ALERTS_STREAM = 'alerts';
export const ALERTS_DEAD_LETTER_STREAM = `${ALERTS_STREAM}:dlq`;
export const WEBHOOK_GROUP = 'alerts-webhook';
export const RECORDER_GROUP = 'alerts-recorder';
export const RECORDER_DEAD_LETTER_GROUP = 'alerts-recorder-dlq';

/** A webhook that answers 429 or 503 is busy: the whole webhook group waits, as it asks. */
export const WEBHOOK_BUSY = {
  /** The wait when `Retry-After` is absent or unreadable. */
  defaultDelayMs: 1_000,
  /** The longest wait a receiver can ask for; a longer one is cut to this. */
  maxDelayMs: 5 * 60 * 1_000,
} as const;

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
/** An alert that does not say how bad it is is treated as the worst case. */
export const DEFAULT_SEVERITY: Severity = 'critical';

/**
 * Whether an alert from Alertmanager or Grafana is still firing or has resolved. An alert that
 * does not say (POST /alerts, other producers) is firing.
 */
export const ALERT_STATUSES = ['firing', 'resolved'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

/** Limits of an alert's content in POST /alerts, and of the stream payload unless EVENT_LIMITS widens them. */
export const ALERT_LIMITS = {
  messageMaxLength: 2_000,
  sourceMaxLength: 200,
  labelsMaxKeys: 20,
  labelKeyMaxLength: 64,
  labelValueMaxLength: 256,
} as const;

/** How many keys a map of strings (labels, annotations) may have, and how long each may be. */
export interface StringMapLimits {
  maxKeys: number;
  keyMaxLength: number;
  valueMaxLength: number;
}

/**
 * What an alert event on the stream may carry, whichever intake wrote it: the widest that any
 * intake accepts. Alerts relayed from Alertmanager or Grafana carry more labels than POST /alerts
 * takes (a Kubernetes alert has a dozen or more), and annotations, which POST /alerts has not.
 */
export const EVENT_LIMITS = {
  labels: { maxKeys: 64, keyMaxLength: 128, valueMaxLength: 1_024 },
  annotations: { maxKeys: 32, keyMaxLength: 128, valueMaxLength: 4_096 },
  fingerprintMaxLength: 128,
  urlMaxLength: 2_048,
} as const satisfies {
  labels: StringMapLimits;
  annotations: StringMapLimits;
  fingerprintMaxLength: number;
  urlMaxLength: number;
};

/** Label keys: letters, digits and `_ . -`, like metric labels. */
export const LABEL_KEY_PATTERN = /^[A-Za-z0-9_.-]+$/;

/** Printable ASCII without spaces, at most 200 characters: what the stream library accepts as an eventId. */
export const EVENT_ID_PATTERN = /^[\x21-\x7e]{1,200}$/;

export const LIST_LIMIT = { default: 50, max: 200 } as const;

/** Alert records in Redis; every key starts with the stream name so `~alerts*` ACLs cover them. */
export const ALERT_STORE = {
  recordKeyPrefix: `${ALERTS_STREAM}:record:`,
  recentKey: `${ALERTS_STREAM}:recent`,
  /** How many alerts the recent index keeps. */
  recentMaxEntries: 1_000,
  recordTtlMs: 7 * 24 * 60 * 60 * 1_000,
  /**
   * How long the publisher remembers an eventId the caller chose (Idempotency-Key): only until the
   * alert's record exists, which remembers it for recordTtlMs. Covers concurrent retries, a
   * Cluster resend, and a recorder that lags behind while the first record write failed.
   */
  publishDedupWindowMs: 5 * 60 * 1_000,
  /** Longest error text kept on a record. */
  maxErrorLength: 1_000,
} as const;

/** Headers of the HTTP API. */
export const HEADER = {
  apiKey: 'x-api-key',
  authorization: 'authorization',
  idempotencyKey: 'idempotency-key',
} as const;
