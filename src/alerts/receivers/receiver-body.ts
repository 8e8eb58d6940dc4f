import type { StreamMessage } from '@redis-streams-alerts/nestjs-redis-streams';
import type { AlertContent } from '../alert-record.js';
import type { Receiver } from './receiver.js';

/** The JSON the `json` format sends: the body of the webhook before receivers existed. */
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
}

/**
 * The request body for the receiver's format. The one place that picks a renderer: the formats
 * of issue 17 (src/alerts/formats/) take over here when they land.
 */
export function receiverBody(
  receiver: Receiver,
  message: StreamMessage,
  content: AlertContent,
): unknown {
  switch (receiver.format) {
    case 'slack':
      return slackBody(content);
    case 'pagerduty':
      return pagerDutyBody(receiver, message, content);
    default:
      return webhookBody(message, content);
  }
}

function webhookBody(message: StreamMessage, content: AlertContent): WebhookBody {
  return {
    eventId: message.eventId,
    id: message.id,
    message: content.message,
    severity: content.severity,
    source: content.source,
    labels: content.labels,
    time: content.receivedAt,
  };
}

function slackBody(content: AlertContent): unknown {
  const text = `[${content.severity ?? 'critical'}] ${content.message ?? ''}`;
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] };
}

function pagerDutyBody(receiver: Receiver, message: StreamMessage, content: AlertContent): unknown {
  const resolved = content.labels?.status === 'resolved';
  return {
    routing_key: receiver.routingKey,
    event_action: resolved ? 'resolve' : 'trigger',
    dedup_key: content.labels?.fingerprint ?? message.eventId,
    payload: {
      summary: content.message ?? '',
      source: content.source ?? 'alerts',
      severity: content.severity === 'info' ? 'info' : (content.severity ?? 'critical'),
    },
  };
}
