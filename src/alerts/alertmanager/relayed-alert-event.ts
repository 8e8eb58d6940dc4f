import { truncate } from '../../common/truncate.js';
import {
  ALERT_LIMITS,
  DEFAULT_SEVERITY,
  type AlertStatus,
  type Severity,
} from '../alerts.constants.js';
import { SEVERITY_LABEL_VALUES } from './alertmanager.constants.js';
import type { AlertmanagerNotification, NotifiedAlert } from './alertmanager-payload.js';
import { labelsFingerprint, relayedEventId } from './relayed-event-id.js';

/** What the intake publishes for one alert of a notification. */
export interface RelayedAlertEvent {
  eventId: string;
  /** The stream payload: an AlertEventDto. */
  payload: Record<string, unknown>;
  /** With ALERTS_PARTITIONS, the partition: the source, as for POST /alerts. */
  partitionKey?: string;
  status: AlertStatus;
  fingerprint: string;
  startsAt: string;
}

/**
 * One alert of a notification as an event of the alerts stream:
 * - severity: the `severity` label read through SEVERITY_LABEL_VALUES, critical otherwise;
 * - message: the `summary` annotation, else `description`, else the `alertname` label (cut to
 *   the message limit);
 * - source: the `instance` label, else `job`, else the notification's receiver;
 * - labels and annotations as they are, with the status, times, fingerprint and generatorURL.
 */
export function toRelayedAlertEvent(
  alert: NotifiedAlert,
  notification: AlertmanagerNotification,
): RelayedAlertEvent {
  const fingerprint = alert.fingerprint ?? labelsFingerprint(alert.labels);
  const source = firstText(alert.labels.instance, alert.labels.job, notification.receiver);
  const message =
    firstText(alert.annotations.summary, alert.annotations.description, alert.labels.alertname) ??
    `Alert ${fingerprint}`;
  const payload: Record<string, unknown> = {
    message: truncate(message, ALERT_LIMITS.messageMaxLength),
    severity: severityOf(alert.labels.severity),
    source: source && truncate(source, ALERT_LIMITS.sourceMaxLength),
    labels: alert.labels,
    alertStatus: alert.status,
    startsAt: alert.startsAt,
    // Only a resolved alert's end is news: Prometheus gives firing ones an end it keeps moving.
    endsAt: alert.status === 'resolved' ? alert.endsAt : undefined,
    fingerprint,
    generatorURL: alert.generatorURL,
    annotations: Object.keys(alert.annotations).length > 0 ? alert.annotations : undefined,
  };
  return {
    eventId: relayedEventId(fingerprint, alert.startsAt, alert.status),
    payload,
    partitionKey: payload.source as string | undefined,
    status: alert.status,
    fingerprint,
    startsAt: alert.startsAt,
  };
}

/** The service's severity for a `severity` label value; unknown and absent are critical. */
export function severityOf(label: string | undefined): Severity {
  const value = label?.trim().toLowerCase() ?? '';
  // Own keys only: "constructor" is no severity.
  return Object.hasOwn(SEVERITY_LABEL_VALUES, value)
    ? SEVERITY_LABEL_VALUES[value]
    : DEFAULT_SEVERITY;
}

function firstText(...values: Array<string | undefined>): string | undefined {
  return values.find((value) => value !== undefined && value.trim() !== '');
}
