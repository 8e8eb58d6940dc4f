import type { StreamMessage } from '@redis-streams-alerts/nestjs-redis-streams';
import type { AlertContent } from '../alert-record.js';
import { renderAlert, type RenderedRequest } from '../formats/index.js';
import type { Receiver } from './receiver.js';

/**
 * The request for the receiver, in its format: the one place where delivery meets the formats.
 * Throws `RenderError` when the receiver lacks what its format needs (validation prevents that).
 */
export function receiverBody(
  receiver: Receiver,
  message: StreamMessage,
  content: AlertContent,
): RenderedRequest {
  return renderAlert(
    { ...content, eventId: message.eventId, id: message.id },
    {
      name: receiver.name,
      format: receiver.format,
      secrets: receiver.routingKey === undefined ? {} : { routingKey: receiver.routingKey },
    },
  );
}
