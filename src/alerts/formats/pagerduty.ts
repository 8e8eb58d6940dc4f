import { truncate } from '../../common/truncate.js';
import {
  JSON_HEADERS,
  RenderError,
  type AlertFormat,
  type RenderedRequest,
} from './alert-format.js';
import { httpUrl, occurrenceKey, statusOf, type OutgoingAlert } from './outgoing-alert.js';
import type { Receiver } from './receiver.js';

/** The severities PagerDuty takes. */
export const PAGERDUTY_SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
type PagerDutySeverity = (typeof PAGERDUTY_SEVERITIES)[number];

/** PagerDuty's limits: a longer value makes it refuse the event (400). */
const PAGERDUTY_LIMITS = { summary: 1_024, dedupKey: 255 } as const;

/** Who sent the event, as PagerDuty shows it. */
const CLIENT = 'redis-streams-alerts';

/** The receiver secret that holds the integration's routing key. */
export const ROUTING_KEY_SECRET = 'routingKey';

/** An Events API v2 alert event (`POST https://events.pagerduty.com/v2/enqueue`). */
export interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'resolve';
  dedup_key: string;
  payload?: {
    summary: string;
    source: string;
    severity: PagerDutySeverity;
    timestamp?: string;
    class?: string;
    custom_details?: Record<string, unknown>;
  };
  client?: string;
  links?: Array<{ href: string; text: string }>;
}

/**
 * PagerDuty's Events API v2: a firing alert triggers, a resolved one resolves, and both carry the
 * same `dedup_key` (the alert's fingerprint and start time), so the resolve closes the incident
 * the trigger opened and a repeated trigger adds to it. The routing key is the receiver's
 * `routingKey` secret.
 */
export const pagerDutyFormat: AlertFormat = {
  name: 'pagerduty',
  requiredSecrets: [ROUTING_KEY_SECRET],
  render(alert: OutgoingAlert, receiver: Receiver): RenderedRequest {
    return {
      body: JSON.stringify(pagerDutyEvent(alert, routingKeyOf(receiver))),
      headers: { ...JSON_HEADERS },
    };
  },
};

function pagerDutyEvent(alert: OutgoingAlert, routingKey: string): PagerDutyEvent {
  const dedupKey = truncate(occurrenceKey(alert), PAGERDUTY_LIMITS.dedupKey);
  // A resolve needs nothing but the key: PagerDuty closes the alert it names.
  if (statusOf(alert) === 'resolved') {
    return { routing_key: routingKey, event_action: 'resolve', dedup_key: dedupKey };
  }
  const links = [
    { href: httpUrl(alert.generatorURL), text: 'Alert source' },
    { href: httpUrl(alert.annotations?.runbook_url), text: 'Runbook' },
  ].filter((link): link is { href: string; text: string } => link.href !== undefined);
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: dedupKey,
    payload: {
      summary: truncate(alert.message || `Alert ${alert.eventId}`, PAGERDUTY_LIMITS.summary),
      source: alert.source || 'unknown',
      severity: pagerDutySeverity(alert),
      timestamp: alert.startsAt ?? alert.receivedAt,
      class: alert.labels?.alertname,
      custom_details: {
        eventId: alert.eventId,
        labels: alert.labels,
        annotations: alert.annotations,
      },
    },
    client: CLIENT,
    ...(links.length > 0 && { links }),
  };
}

/**
 * The alert's own `severity` label when PagerDuty knows it (`error` has no equal among the
 * service's three severities), else the service's severity, which PagerDuty knows by the same name.
 */
function pagerDutySeverity(alert: OutgoingAlert): PagerDutySeverity {
  const label = alert.labels?.severity?.toLowerCase();
  const known = PAGERDUTY_SEVERITIES.find((severity) => severity === label);
  return known ?? alert.severity ?? 'critical';
}

function routingKeyOf(receiver: Receiver): string {
  const key = receiver.secrets?.[ROUTING_KEY_SECRET];
  if (!key) {
    throw new RenderError(
      `receiver "${receiver.name}" has no "${ROUTING_KEY_SECRET}" secret, which the pagerduty format needs`,
    );
  }
  return key;
}
