import { Injectable, Logger } from '@nestjs/common';
import {
  PublishFailedError,
  PublishManyError,
  StreamPublisher,
  type PublishResult,
} from '@redis-streams-alerts/nestjs-redis-streams';
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

/** One alert of a batch, with the eventId that makes a resent batch add nothing. */
export interface IntakeItem {
  payload: object;
  eventId: string;
  partitionKey?: string;
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
    await this.recordNew([published]);
    return { id: published.id, eventId: published.eventId, duplicate: published.duplicate };
  }

  /**
   * Accepts a batch as `accept` accepts one alert, in one round trip to append: resolves, with a
   * result per item in their order, only once Redis has every one. Otherwise rejects with
   * PublishFailedError (PublishManyError when some went in): those that went in are recorded
   * all the same, so sending the batch again appends only the others. The eventIds must differ.
   */
  async acceptMany(stream: string, items: IntakeItem[]): Promise<IntakeResult[]> {
    const known = await Promise.all(items.map((item) => this.store.locate(item.eventId))).catch(
      (error: unknown) => {
        throw new PublishFailedError(stream, error);
      },
    );
    const fresh = items.filter((_, i) => known[i] === undefined);
    let published: PublishResult[];
    try {
      published = await this.publisher.publishMany(stream, fresh, {
        dedupWindowMs: ALERT_STORE.publishDedupWindowMs,
      });
    } catch (error) {
      if (error instanceof PublishManyError) {
        await this.recordNew(
          error.outcomes.flatMap((outcome) =>
            outcome.status === 'published' ? [outcome.result] : [],
          ),
        );
      }
      throw error;
    }
    await this.recordNew(published);
    const appended = new Map(published.map((result) => [result.eventId, result]));
    return items.map(({ eventId }, i) => {
      const first = known[i];
      if (first) return { id: first.id, eventId, duplicate: true };
      const result = appended.get(eventId)!;
      return { id: result.id, eventId, duplicate: result.duplicate };
    });
  }

  /** Records what was appended now (not duplicates), so that GET /alerts/:eventId finds it at once. */
  private async recordNew(published: PublishResult[]): Promise<void> {
    await Promise.all(
      published
        .filter((result) => !result.duplicate)
        .map(async (result) => {
          try {
            await this.store.recordReceived(result.eventId, result);
          } catch (error) {
            // The alert is in the stream; the recorder handler records it from there.
            this.logger.warn(
              `Could not record alert eventId=${result.eventId} yet: ${(error as Error).message}`,
            );
          }
        }),
    );
  }
}
