import { Injectable, Logger } from '@nestjs/common';
import {
  FIELD,
  NonRetryableError,
  RetryLaterError,
  type StreamMessage,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { WEBHOOK_BUSY } from '../alerts.constants.js';
import { toAlertContent } from '../alert-content.js';
import type { AlertEventDto } from '../alert-event.dto.js';
import { AlertStore } from '../alert-store.js';
import { messageContext } from '../message-context.js';
import type { RenderedRequest } from '../formats/index.js';
import { receiverBody } from './receiver-body.js';
import { ReceiverEvents } from './receiver-events.js';
import { ReceiverRouting } from './receiver-routing.js';
import { redactSecrets, takes, type Receiver } from './receiver.js';
import { retryAfterMs } from './retry-after.js';
import { classifyWebhookStatus } from './webhook-response.js';
import { webhookTarget } from './webhook-target.js';

/**
 * Delivers alerts to one receiver, as its consumer group's handler: an alert its matchers do not
 * take is acknowledged without a call; the others are POSTed in the receiver's format with an
 * `Idempotency-Key` header, so a receiver can drop the duplicates that at-least-once delivery may
 * cause. A receiver that answers 429 or 503 is busy: its group waits as its `Retry-After` says,
 * spending no attempt. Other failures the receiver may recover from are retried with backoff by
 * the stream consumer (and many in a row open the group's circuit); requests it rejects go to the
 * dead-letter stream at once. Every reason names the receiver and never holds a secret. Without a
 * URL (ALERTS_WEBHOOK_URL unset), alerts are only logged.
 */
@Injectable()
export class ReceiverDelivery {
  private readonly logger = new Logger(ReceiverDelivery.name);

  constructor(
    private readonly store: AlertStore,
    private readonly routing: ReceiverRouting,
    private readonly events: ReceiverEvents,
  ) {}

  async deliver(receiver: Receiver, alert: AlertEventDto, message: StreamMessage): Promise<void> {
    const content = toAlertContent(alert, message.id, message.fields[FIELD.publishedAt]);
    const context = messageContext(message);
    if (!takes(receiver, content)) {
      this.events.skipped(receiver.name);
      return;
    }
    if (!receiver.url) {
      this.logger.log(`Alert ${context}: [${content.severity}] ${content.message}`);
      await this.recordDelivered(receiver, message, 'log');
      return;
    }

    const target = webhookTarget(receiver.url);
    const { timeoutMs } = receiver;
    const failed = async (reason: string): Promise<string> => {
      const named = redactSecrets(`receiver ${receiver.name}: ${reason}`, receiver.secretValues);
      await this.recordFailure(receiver, message, named);
      return named;
    };
    let rendered: RenderedRequest;
    try {
      rendered = receiverBody(receiver, message, content);
    } catch (error) {
      // The receiver lacks what its format needs: sending again cannot help.
      throw new NonRetryableError(await failed((error as Error).message));
    }
    let response: Response;
    try {
      response = await fetch(target.url, {
        method: 'POST',
        headers: {
          ...(target.authorization && { authorization: target.authorization }),
          ...receiver.headers,
          ...rendered.headers,
          'idempotency-key': message.eventId,
        },
        body: rendered.body,
        // A 3xx would turn the POST into a GET somewhere else: report it instead of following it.
        redirect: 'manual',
        // Ends at the call's own timeout, or when the consumer gives up on the handler (its
        // timeout, shutdown), whichever comes first.
        signal: AbortSignal.any([message.signal, AbortSignal.timeout(timeoutMs)]),
      });
    } catch (error) {
      // The reason ends up in the alert record and the dead-letter stream: it never holds the URL.
      const reason = await failed(
        message.signal.aborted
          ? 'webhook call abandoned: the handler was stopped (timeout or shutdown)'
          : `webhook did not answer: ${describeFetchError(error, timeoutMs)}`,
      );
      throw new Error(reason, { cause: error });
    }
    // Only the status matters; release the connection without waiting for the body.
    await response.body?.cancel().catch(() => undefined);

    const answered = `webhook answered ${response.status} ${response.statusText}`.trim();
    switch (classifyWebhookStatus(response.status)) {
      case 'delivered':
        await this.recordDelivered(receiver, message, 'webhook');
        this.logger.log(`Delivered ${context} to receiver ${receiver.name}: ${answered}`);
        return;
      case 'busy': {
        // 429 says "you send too much": the group waits, as long as asked or a default. A 503
        // that says for how long pauses the group too; without that it may be this request's
        // own trouble, and this alert alone tries again later, backing off, spending no attempt.
        const asked = retryAfterMs(response.headers.get('retry-after'));
        const delayMs =
          asked ?? (response.status === 429 ? WEBHOOK_BUSY.defaultDelayMs : undefined);
        const busy =
          delayMs === undefined
            ? `${answered}; busy, this alert tries again later`
            : `${answered}; busy, the group waits ${delayMs} ms`;
        throw new RetryLaterError(await failed(busy), delayMs);
      }
      case 'retry':
        throw new Error(await failed(answered));
      case 'reject':
        throw new NonRetryableError(await failed(`${answered}; not retrying`));
    }
  }

  /** The receiver's name on the record, when records keep one status per receiver. */
  private recordedAs(receiver: Receiver): string | undefined {
    return this.routing.fromFile ? receiver.name : undefined;
  }

  /**
   * Notes the delivery on the alert's record. The receiver already has the alert: a store error
   * (Redis away for a moment) is logged, never thrown, or the alert would be sent again. The
   * recorder still has it as pending then; the dead-letter and retry paths are unaffected.
   */
  private async recordDelivered(
    receiver: Receiver,
    message: StreamMessage,
    via: 'log' | 'webhook',
  ): Promise<void> {
    this.events.delivered(receiver.name);
    try {
      await this.store.recordDelivered(
        message.eventId,
        message,
        message.attempt,
        via,
        this.recordedAs(receiver),
      );
    } catch (error) {
      this.logger.warn(
        `Delivered but could not record it ${messageContext(message)}: ${(error as Error).message}`,
      );
    }
  }

  /**
   * Notes a failed attempt on the alert's record. Logged at debug level only: the stream consumer
   * logs the failure with its retry plan. A store error is logged, not thrown, so that it does not
   * hide the delivery failure.
   */
  private async recordFailure(
    receiver: Receiver,
    message: StreamMessage,
    reason: string,
  ): Promise<void> {
    this.logger.debug(`Delivery failed ${messageContext(message)}: ${reason}`);
    try {
      await this.store.recordFailedAttempt(
        message.eventId,
        message,
        message.attempt,
        reason,
        this.recordedAs(receiver),
      );
    } catch (error) {
      this.logger.warn(
        `Could not record the failed attempt ${messageContext(message)}: ${(error as Error).message}`,
      );
    }
  }
}

/** Why fetch got no answer, in words that never include the URL (it may hold a token). */
function describeFetchError(error: unknown, timeoutMs: number): string {
  // Duck-typed: fetch's errors may come from another realm, where `instanceof Error` fails.
  const { name, message, cause } = (error ?? {}) as {
    name?: string;
    message?: string;
    cause?: { code?: string; message?: string };
  };
  if (name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  // Network failures are "fetch failed" with the reason (ECONNREFUSED, ENOTFOUND...) as the cause.
  if (message === 'fetch failed') {
    const detail = cause?.code ?? cause?.message;
    return detail ? `${message} (${detail})` : message;
  }
  return name ?? 'unknown error';
}
