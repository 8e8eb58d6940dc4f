import { FIELD } from '@redis-streams-alerts/nestjs-redis-streams';
import {
  ALERT_STATUSES,
  DEFAULT_SEVERITY,
  EVENT_LIMITS,
  SEVERITIES,
  type AlertStatus,
  type Severity,
  type StringMapLimits,
} from './alerts.constants.js';
import type { AlertContent } from './alert-record.js';
import { eventLabelLimits, findLabelsProblem } from './labels.validator.js';

/**
 * The content of an alert from a stream payload: a validated `AlertEventDto`, or whatever a
 * dead-letter entry holds (fields that do not fit are left out). Severity defaults to critical.
 * The receive time is the payload's `receivedAt` (entries of older versions), else the entry's
 * `publishedAt` field (kept when a dead letter is replayed), else the time in the entry id.
 */
export function toAlertContent(
  payload: unknown,
  entryId: string,
  publishedAt?: string,
): AlertContent {
  const data = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<
    string,
    unknown
  >;
  const text = (value: unknown): string | undefined =>
    typeof value === 'string' ? value : undefined;
  const severity = SEVERITIES.find((known) => known === data.severity) as Severity | undefined;
  const alertStatus = ALERT_STATUSES.find((known) => known === data.alertStatus) as
    AlertStatus | undefined;
  return {
    id: entryId,
    message: text(data.message),
    severity: severity ?? DEFAULT_SEVERITY,
    source: text(data.source),
    labels: parseStringMap(data.labels, eventLabelLimits(data)),
    receivedAt: validTime(text(data.receivedAt)) ?? msTime(publishedAt) ?? entryTime(entryId),
    // Only alerts relayed from Alertmanager or Grafana have these; JSON leaves the others out.
    alertStatus,
    startsAt: validTime(text(data.startsAt)),
    endsAt: validTime(text(data.endsAt)),
    fingerprint: text(data.fingerprint),
    generatorURL: text(data.generatorURL),
    annotations: parseStringMap(data.annotations, EVENT_LIMITS.annotations),
  };
}

/**
 * The stream payload of an alert accepted over HTTP or from the CLI. When it came in is the
 * entry's `publishedAt`, written by the publisher: not stored a second time in the payload.
 */
export function toAlertPayload(alert: {
  message: string;
  severity?: string;
  source?: string;
  labels?: Record<string, string>;
}): Record<string, unknown> {
  return {
    message: alert.message,
    severity: alert.severity,
    source: alert.source,
    labels: alert.labels,
  };
}

/**
 * The content of an alert from an entry's raw fields, whatever wrote it: the JSON `payload` field
 * of the publisher (ignored when it is not JSON) or the flat fields of another producer.
 */
export function contentFromFields(fields: Record<string, string>, entryId: string): AlertContent {
  const publishedAt = fields[FIELD.publishedAt];
  if (fields[FIELD.payload] === undefined) return toAlertContent(fields, entryId, publishedAt);
  try {
    return toAlertContent(JSON.parse(fields[FIELD.payload]) as unknown, entryId, publishedAt);
  } catch {
    return toAlertContent({}, entryId, publishedAt);
  }
}

/** The ISO time encoded in a stream entry id (`<ms>-<seq>`). */
export function entryTime(entryId: string): string | undefined {
  const ms = Number(entryId.split('-')[0]);
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : undefined;
}

/** The ISO time of a `publishedAt` field (ms since the epoch). */
function msTime(value: string | undefined): string | undefined {
  const ms = Number(value);
  return value !== undefined && Number.isInteger(ms) && ms > 0
    ? new Date(ms).toISOString()
    : undefined;
}

function validTime(value: string | undefined): string | undefined {
  return value !== undefined && !Number.isNaN(Date.parse(value)) ? value : undefined;
}

/** Labels or annotations: a map, or its JSON text (flat fields); undefined when it does not fit. */
function parseStringMap(
  value: unknown,
  limits: StringMapLimits,
): Record<string, string> | undefined {
  let map = value;
  if (typeof value === 'string') {
    try {
      map = JSON.parse(value) as unknown;
    } catch {
      return undefined;
    }
  }
  return map !== undefined && findLabelsProblem(map, limits) === undefined
    ? (map as Record<string, string>)
    : undefined;
}
