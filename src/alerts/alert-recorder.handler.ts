import { Injectable, Logger } from '@nestjs/common';
import {
  DLQ_FIELD,
  FIELD,
  StreamHandler,
  type StreamMessage,
} from '@redis-streams-alerts/nestjs-redis-streams';
import {
  ALERTS_DEAD_LETTER_STREAM,
  ALERTS_STREAM,
  EVENT_ID_PATTERN,
  RECORDER_DEAD_LETTER_GROUP,
  RECORDER_GROUP,
} from './alerts.constants.js';
import { contentFromFields } from './alert-content.js';
import { AlertStore } from './alert-store.js';
import { messageContext } from './message-context.js';
import { ReceiverEvents } from './receivers/receiver-events.js';
import { ReceiverRouting } from './receivers/receiver-routing.js';

/**
 * Keeps the alert store up to date: every alert on the stream becomes a pending record, whatever
 * wrote it, and an alert a receiver's group dead-lettered is marked so, with the reason and where
 * its dead letter is (its content stays readable there once retention trimmed the stream). With a
 * receivers file, the record also says which receivers take the alert; one that none takes is
 * counted, and its record shows it as `unrouted`.
 */
@Injectable()
export class AlertRecorderHandler {
  private readonly logger = new Logger(AlertRecorderHandler.name);

  constructor(
    private readonly store: AlertStore,
    private readonly routing: ReceiverRouting,
    private readonly events: ReceiverEvents,
  ) {}

  /**
   * Raw fields, no DTO: an entry the webhook handler will dead-letter as malformed is still
   * recorded (and then marked dead-lettered), instead of failing here a second time.
   */
  @StreamHandler(ALERTS_STREAM, { group: RECORDER_GROUP, rawFields: true })
  async record(_fields: unknown, message: StreamMessage): Promise<void> {
    if (!EVENT_ID_PATTERN.test(message.eventId)) return;
    const routes = this.routing.fromFile
      ? this.routing.route(contentFromFields(message.fields, message.id))
      : undefined;
    const status = await this.store.recordReceived(message.eventId, message, routes);
    if (routes?.length === 0) {
      this.events.unrouted();
      this.logger.log(`No receiver takes ${messageContext(message)}; recorded as unrouted`);
    }
    this.logger.debug(`Recorded ${messageContext(message)} (status ${status})`);
  }

  /**
   * The dead-letter entry holds the original fields plus the `dlq-*` ones. Its `eventId` field is
   * there when the publisher wrote the original; for a producer that wrote flat fields, the
   * eventId was the original entry id.
   */
  @StreamHandler(ALERTS_DEAD_LETTER_STREAM, { group: RECORDER_DEAD_LETTER_GROUP, rawFields: true })
  async recordDeadLetter(_fields: unknown, message: StreamMessage): Promise<void> {
    const fields = message.fields;
    const receiver = this.routing.byGroup(fields[DLQ_FIELD.group]);
    if (!isAlertsStream(fields[DLQ_FIELD.stream]) || !receiver) return;
    const originalId = fields[DLQ_FIELD.originalId] ?? '';
    const eventId = fields[FIELD.eventId] ?? originalId;
    const context = messageContext(message, eventId);
    if (!EVENT_ID_PATTERN.test(eventId)) {
      this.logger.warn(
        `Dead letter ${message.id} names no usable eventId; not recorded (${context})`,
      );
      return;
    }
    const attempts = Number(fields[DLQ_FIELD.attempts]);
    const reason = fields[DLQ_FIELD.error] ?? 'dead-lettered without a reason';
    const status = await this.store.recordDeadLettered(
      eventId,
      { stream: fields[DLQ_FIELD.stream], id: originalId || message.id },
      Number.isInteger(attempts) && attempts > 0 ? attempts : 1,
      reason,
      message.id,
      this.routing.fromFile ? receiver.name : undefined,
    );
    this.logger.warn(`Dead-lettered ${context} (status ${status}): ${reason}`);
  }
}

/** The alerts stream, or one of its partitions (`alerts:{3}`) with ALERTS_PARTITIONS. */
function isAlertsStream(stream: string | undefined): boolean {
  return stream === ALERTS_STREAM || /^alerts:\{\d+\}$/.test(stream ?? '');
}
