import { JSON_HEADERS, type AlertFormat, type RenderedRequest } from './alert-format.js';
import type { OutgoingAlert } from './outgoing-alert.js';

/** The JSON a `json` receiver gets (and ALERTS_WEBHOOK_URL always got). */
export interface WebhookBody {
  eventId: string;
  /** The stream entry id. */
  id: string;
  message?: string;
  severity?: string;
  source?: string;
  labels?: Record<string, string>;
  /** ISO 8601 time the alert was received. */
  time?: string;
  // Only alerts relayed from Alertmanager or Grafana have the fields below.
  alertStatus?: string;
  startsAt?: string;
  endsAt?: string;
  fingerprint?: string;
  generatorURL?: string;
  annotations?: Record<string, string>;
}

/**
 * The service's own JSON. An alert from POST /alerts gives the same bytes as before formats
 * existed: the fields it lacks are left out, and the order of the others is kept.
 */
export const jsonFormat: AlertFormat = {
  name: 'json',
  requiredSecrets: [],
  render: renderJson,
};

/** The `json` rendering, which needs nothing of the receiver. */
export function renderJson(alert: OutgoingAlert): RenderedRequest {
  return { body: JSON.stringify(webhookBody(alert)), headers: { ...JSON_HEADERS } };
}

function webhookBody(alert: OutgoingAlert): WebhookBody {
  return {
    eventId: alert.eventId,
    id: alert.id,
    message: alert.message,
    severity: alert.severity,
    source: alert.source,
    labels: alert.labels,
    time: alert.receivedAt,
    alertStatus: alert.alertStatus,
    startsAt: alert.startsAt,
    endsAt: alert.endsAt,
    fingerprint: alert.fingerprint,
    generatorURL: alert.generatorURL,
    annotations: alert.annotations,
  };
}
