import { truncate } from '../../common/truncate.js';
import {
  ALERT_STATUSES,
  EVENT_ID_PATTERN,
  EVENT_LIMITS,
  type AlertStatus,
} from '../alerts.constants.js';
import { findLabelsProblem } from '../labels.validator.js';

/** One alert of a notification, checked and normalized. */
export interface NotifiedAlert {
  status: AlertStatus;
  labels: Record<string, string>;
  /** Values longer than EVENT_LIMITS.annotations.valueMaxLength are cut. */
  annotations: Record<string, string>;
  /** ISO 8601 in UTC with milliseconds, whatever offset and precision the sender wrote. */
  startsAt: string;
  /** Only when the sender gave a real time (Alertmanager writes Go's zero time for none). */
  endsAt?: string;
  /** As sent; undefined when absent or empty. */
  fingerprint?: string;
  /** Left out when it is not a string or longer than EVENT_LIMITS.urlMaxLength. */
  generatorURL?: string;
}

/**
 * A webhook notification of Alertmanager (version 4) or of Grafana's webhook contact point (the
 * same shape with more fields, version 1), reduced to what the service uses. Grafana's extra
 * fields (orgId, title, state, message, values, silenceURL, dashboardURL...) are ignored.
 */
export interface AlertmanagerNotification {
  receiver?: string;
  status?: string;
  groupKey?: string;
  /** How many alerts Alertmanager left out of the notification (its `max_alerts`). */
  truncatedAlerts: number;
  alerts: NotifiedAlert[];
}

export type ReadNotification =
  | { kind: 'notification'; notification: AlertmanagerNotification }
  | { kind: 'invalid'; problems: string[] }
  | { kind: 'too-many'; count: number };

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Checks a notification body and lists every problem, each named by where it is
 * (`alerts[2].startsAt`). Alerts beyond `maxAlerts` are refused as a whole, before any is read.
 */
export function readAlertmanagerPayload(body: unknown, maxAlerts: number): ReadNotification {
  if (!isObject(body)) {
    return {
      kind: 'invalid',
      problems: ['the body must be a JSON object (a webhook notification)'],
    };
  }
  const alerts = body.alerts;
  if (!Array.isArray(alerts) || alerts.length === 0) {
    return { kind: 'invalid', problems: ['alerts must be a non-empty array'] };
  }
  if (alerts.length > maxAlerts) return { kind: 'too-many', count: alerts.length };

  const problems: string[] = [];
  const read: NotifiedAlert[] = [];
  alerts.forEach((alert: unknown, i) => {
    const alertProblems: string[] = [];
    const parsed = readAlert(alert, alertProblems);
    problems.push(...alertProblems.map((problem) => `alerts[${i}]${problem}`));
    if (parsed) read.push(parsed);
  });
  if (problems.length > 0) return { kind: 'invalid', problems };
  return {
    kind: 'notification',
    notification: {
      receiver: optionalText(body.receiver),
      status: optionalText(body.status),
      groupKey: optionalText(body.groupKey),
      truncatedAlerts:
        typeof body.truncatedAlerts === 'number' && body.truncatedAlerts > 0
          ? body.truncatedAlerts
          : 0,
      alerts: read,
    },
  };
}

/** The alert, or undefined with its problems (each starting with the field) added to `problems`. */
function readAlert(alert: unknown, problems: string[]): NotifiedAlert | undefined {
  if (!isObject(alert)) {
    problems.push(' must be an object');
    return undefined;
  }
  const status = ALERT_STATUSES.find((known) => known === alert.status);
  if (!status) problems.push(`.status must be one of ${ALERT_STATUSES.join(', ')}`);

  const labels = alert.labels ?? {};
  const labelsProblem = findLabelsProblem(labels, EVENT_LIMITS.labels);
  if (labelsProblem) problems.push(`.labels ${labelsProblem}`);

  const annotations = alert.annotations ?? {};
  const annotationsProblem = findLabelsProblem(annotations, {
    ...EVENT_LIMITS.annotations,
    // Long texts are cut below rather than refused: a runbook's worth of description should not
    // cost the whole notification.
    valueMaxLength: Infinity,
  });
  if (annotationsProblem) problems.push(`.annotations ${annotationsProblem}`);

  const startsAt = realTime(alert.startsAt);
  if (!startsAt) problems.push('.startsAt must be an RFC 3339 time (when the alert began)');
  const endsAtGiven = alert.endsAt !== undefined && alert.endsAt !== null && alert.endsAt !== '';
  if (endsAtGiven && (typeof alert.endsAt !== 'string' || Number.isNaN(Date.parse(alert.endsAt)))) {
    problems.push('.endsAt must be an RFC 3339 time when present');
  }

  let fingerprint: string | undefined;
  if (alert.fingerprint !== undefined && alert.fingerprint !== null && alert.fingerprint !== '') {
    if (
      typeof alert.fingerprint !== 'string' ||
      alert.fingerprint.length > EVENT_LIMITS.fingerprintMaxLength ||
      !EVENT_ID_PATTERN.test(alert.fingerprint)
    ) {
      problems.push(
        `.fingerprint must be 1 to ${EVENT_LIMITS.fingerprintMaxLength} printable ASCII characters without spaces`,
      );
    } else {
      fingerprint = alert.fingerprint;
    }
  }
  if (!fingerprint && isObject(labels) && Object.keys(labels).length === 0) {
    problems.push(' needs a fingerprint or labels: nothing else tells one alert from another');
  }
  if (problems.length > 0 || !status || !startsAt) return undefined;

  const generatorURL = optionalText(alert.generatorURL);
  return {
    status,
    labels: { ...(labels as Record<string, string>) },
    annotations: Object.fromEntries(
      Object.entries(annotations as Record<string, string>).map(([key, value]) => [
        key,
        truncate(value, EVENT_LIMITS.annotations.valueMaxLength),
      ]),
    ),
    startsAt,
    endsAt: realTime(alert.endsAt),
    fingerprint,
    generatorURL:
      generatorURL && generatorURL.length <= EVENT_LIMITS.urlMaxLength ? generatorURL : undefined,
  };
}

/**
 * The time as ISO 8601 in UTC, or undefined when it is not a time or is Go's zero time
 * (`0001-01-01T00:00:00Z`), which Alertmanager writes for "not set".
 */
function realTime(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) || ms <= 0 ? undefined : new Date(ms).toISOString();
}

function optionalText(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
