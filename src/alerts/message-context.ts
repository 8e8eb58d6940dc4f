import type { StreamMessage } from '@redis-streams-alerts/nestjs-redis-streams';

/** The part of a log line that says which message it is about. */
export function messageContext(message: StreamMessage, eventId = message.eventId): string {
  return `stream=${message.stream} group=${message.group} eventId=${eventId} attempt=${message.attempt}`;
}
