import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { alertsConfig } from '../config/alerts.config.js';
import {
  FIELD,
  NonRetryableError,
  RetryLaterError,
  StreamHandler,
  type StreamMessage,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { ALERTS_STREAM, WEBHOOK_GROUP, WEBHOOK_BUSY } from './alerts.constants.js';
import { toAlertContent } from './alert-content.js';
import { AlertEventDto } from './alert-event.dto.js';
import { AlertStore } from './alert-store.js';
import { renderJson } from './formats/json.js';
import { messageContext } from './message-context.js';
import { retryAfterMs } from './retry-after.js';
import { classifyWebhookStatus } from './webhook-response.js';
import { webhookTarget, type WebhookTarget } from './webhook-target.js';

/**
 * Delivers every alert to the webhook (`ALERTS_WEBHOOK_URL`) as a JSON POST with an
 * `Idempotency-Key` header, so a receiver can drop the duplicates that at-least-once delivery may
 * cause. A receiver that answers 429 or 503 is busy: the whole group waits as its `Retry-After`
 * says, spending no attempt. Other failures the receiver may recover from are retried with backoff
 * by the stream consumer (and many in a row open the group's circuit); requests it rejects go to
 * the dead-letter stream at once. Without a URL, alerts are only logged.
 */
@Injectable()
export class WebhookDeliveryHandler {
  private readonly logger = new Logger(WebhookDeliveryHandler.name);
  private readonly target?: WebhookTarget;

  constructor(
    @Inject(alertsConfig.KEY) private readonly config: ConfigType<typeof alertsConfig>,
    private readonly store: AlertStore,
  ) {
    this.target = config.webhookUrl ? webhookTarget(config.webhookUrl) : undefined;
  }

  // Idempotent: a later entry with an eventId already delivered (a producer's retry) is not sent.
  // The circuit breaker: a receiver that is down gets probe calls, not one retry per alert. Rate
  // limit and delivery deadline come from the configuration (see alerts-stream.ts).
  @StreamHandler(ALERTS_STREAM, {
    group: WEBHOOK_GROUP,
    dto: AlertEventDto,
    idempotent: true,
    circuitBreaker: true,
  })
  async deliver(alert: AlertEventDto, message: StreamMessage): Promise<void> {
    const content = toAlertContent(alert, message.id, message.fields[FIELD.publishedAt]);
    const context = messageContext(message);
    const target = this.target;
    if (!target) {
      this.logger.log(`Alert ${context}: [${content.severity}] ${content.message}`);
      await this.recordDelivered(message, 'log');
      return;
    }

    const timeoutMs = this.config.webhookTimeoutMs;
    let response: Response;
    try {
      response = await fetch(target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': message.eventId,
          ...(target.authorization && { authorization: target.authorization }),
        },
        body: renderJson({ ...content, eventId: message.eventId, id: message.id }).body,
        // A 3xx would turn the POST into a GET somewhere else: report it instead of following it.
        redirect: 'manual',
        // Ends at the call's own timeout, or when the consumer gives up on the handler (its
        // timeout, shutdown), whichever comes first.
        signal: AbortSignal.any([message.signal, AbortSignal.timeout(timeoutMs)]),
      });
    } catch (error) {
      // The reason ends up in the alert record and the dead-letter stream: it never holds the URL.
      const reason = message.signal.aborted
        ? 'webhook call abandoned: the handler was stopped (timeout or shutdown)'
        : `webhook did not answer: ${describeFetchError(error, timeoutMs)}`;
      await this.recordFailure(message, reason);
      throw new Error(reason, { cause: error });
    }
    // Only the status matters; release the connection without waiting for the body.
    await response.body?.cancel().catch(() => undefined);

    const answered = `webhook answered ${response.status} ${response.statusText}`.trim();
    switch (classifyWebhookStatus(response.status)) {
      case 'delivered':
        await this.recordDelivered(message, 'webhook');
        this.logger.log(`Delivered ${context}: ${answered}`);
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
        await this.recordFailure(message, busy);
        throw new RetryLaterError(busy, delayMs);
      }
      case 'retry':
        await this.recordFailure(message, answered);
        throw new Error(answered);
      case 'reject':
        await this.recordFailure(message, `${answered}; not retrying`);
        throw new NonRetryableError(`${answered}; not retrying`);
    }
  }

  /**
   * Notes the delivery on the alert's record. The webhook already has the alert: a store error
   * (Redis away for a moment) is logged, never thrown, or the alert would be sent again. The
   * recorder still has it as pending then; the dead-letter and retry paths are unaffected.
   */
  private async recordDelivered(message: StreamMessage, via: 'log' | 'webhook'): Promise<void> {
    try {
      await this.store.recordDelivered(message.eventId, message, message.attempt, via);
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
  private async recordFailure(message: StreamMessage, reason: string): Promise<void> {
    this.logger.debug(`Delivery failed ${messageContext(message)}: ${reason}`);
    try {
      await this.store.recordFailedAttempt(message.eventId, message, message.attempt, reason);
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
