import { Injectable, Logger } from '@nestjs/common';
import { PublishFailedError, StreamPublisher } from '@redis-streams-alerts/nestjs-redis-streams';
import { ALERT_STORE } from './alerts.constants.js';
import { AlertStore } from './alert-store.js';

/** An accepted alert: where it is, and whether an earlier request with its eventId added it. */
export interface IntakeResult {
  /** The stream entry id. */
  id: string;
  eventId: string;
  /** The eventId was already known: nothing was appended, `id` is the first request's. */
  duplicate: boolean;
}

/**
 * Accepts alerts, for the HTTP API and the CLI alike: appends the alert unless its eventId is
 * already known, and records it at once, so that GET /alerts/:eventId finds it right away (the
 * recorder handler records it from the stream too). An eventId the caller chose is known as long
 * as its alert record lives (7 days): the record is the lasting memory of it, and the publisher's
 * own de-duplication key only bridges the moments until the record is written, so that one alert
 * does not keep two keys saying the same thing for a day.
 */
@Injectable()
export class AlertIntake {
  private readonly logger = new Logger(AlertIntake.name);

  constructor(
    private readonly publisher: StreamPublisher,
    private readonly store: AlertStore,
  ) {}

  /** Rejects with PublishFailedError when Redis cannot take the alert. */
  async accept(
    stream: string,
    payload: object,
    options: { eventId?: string; partitionKey?: string } = {},
  ): Promise<IntakeResult> {
    const { eventId } = options;
    if (eventId !== undefined) {
      const known = await this.store.locate(eventId).catch((error: unknown) => {
        throw new PublishFailedError(stream, error);
      });
      if (known) return { id: known.id, eventId, duplicate: true };
    }
    const published = await this.publisher.publish(stream, payload, {
      ...options,
      dedupWindowMs: ALERT_STORE.publishDedupWindowMs,
    });
    if (!published.duplicate) {
      try {
        await this.store.recordAccepted(published.eventId, published);
      } catch (error) {
        // The alert is in the stream; the recorder handler records it from there.
        this.logger.warn(
          `Could not record alert eventId=${published.eventId} yet: ${(error as Error).message}`,
        );
      }
    }
    return { id: published.id, eventId: published.eventId, duplicate: published.duplicate };
  }
}
