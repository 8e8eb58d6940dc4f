import type { AlertStatus } from '../alerts.constants.js';
import type { AlertContent } from '../alert-record.js';

/** An alert on its way to a receiver: what every format renders. */
export interface OutgoingAlert extends AlertContent {
  eventId: string;
  /** The stream entry id. */
  id: string;
}

/** `firing` unless the alert says it resolved: alerts from POST /alerts never resolve. */
export function statusOf(alert: OutgoingAlert): AlertStatus {
  return alert.alertStatus ?? 'firing';
}

/**
 * What names one occurrence of an alert in a receiver that opens and closes incidents: the
 * firing and the resolve of an Alertmanager alert share it (its fingerprint and start time); any
 * other alert is an occurrence of its own, its eventId.
 */
export function occurrenceKey(alert: OutgoingAlert): string {
  return alert.fingerprint && alert.startsAt
    ? `${alert.fingerprint}@${alert.startsAt}`
    : alert.eventId;
}

/** The value when it is an http(s) URL, which receivers can show as a link; otherwise undefined. */
export function httpUrl(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:' ? value : undefined;
  } catch {
    return undefined;
  }
}
