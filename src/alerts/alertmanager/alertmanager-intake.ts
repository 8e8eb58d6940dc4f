import { Injectable } from '@nestjs/common';
import { PublishFailedError } from '@redis-streams-alerts/nestjs-redis-streams';
import { ALERTS_STREAM } from '../alerts.constants.js';
import { AlertIntake } from '../alert-intake.js';
import { AlertStore } from '../alert-store.js';
import type { AlertmanagerNotification } from './alertmanager-payload.js';
import { toRelayedAlertEvent, type RelayedAlertEvent } from './relayed-alert-event.js';
import { relayedEventId } from './relayed-event-id.js';

/**
 * What became of one alert of a notification:
 * - `accepted`: appended now;
 * - `duplicate`: this state of the alert was accepted before (a resend), nothing appended;
 * - `already-resolved`: a firing alert whose resolve is already accepted; appending it would
 *   reopen what resolved (an Alertmanager of an HA pair lagging behind the other), so it is not.
 */
export type RelayOutcome = 'accepted' | 'duplicate' | 'already-resolved';

export interface RelayedAlert {
  eventId: string;
  outcome: RelayOutcome;
  /** The stream entry id: this alert's, or for a duplicate the first one's. Absent when already resolved. */
  id?: string;
}

/**
 * Accepts Alertmanager's and Grafana's notifications: each alert becomes an event with an eventId
 * derived from the alert (see relayedEventId), and all of them are appended together through
 * AlertIntake, which appends only the eventIds it does not know and records them. Resolved
 * alerts stay resolved: a firing alert whose resolve is known is not appended again.
 */
@Injectable()
export class AlertmanagerIntake {
  constructor(
    private readonly intake: AlertIntake,
    private readonly store: AlertStore,
  ) {}

  /** Rejects with PublishFailedError unless Redis has every alert of the notification. */
  async accept(notification: AlertmanagerNotification): Promise<RelayedAlert[]> {
    const events = distinct(
      notification.alerts.map((alert) => toRelayedAlertEvent(alert, notification)),
    );
    const resolved = await this.resolvedAlready(events);
    const fresh = events.filter((event) => !resolved.has(event.eventId));
    const results = await this.intake.acceptMany(ALERTS_STREAM, fresh);
    const byEventId = new Map(results.map((result) => [result.eventId, result]));
    return events.map(({ eventId }) => {
      const result = byEventId.get(eventId);
      if (!result) return { eventId, outcome: 'already-resolved' };
      return { eventId, id: result.id, outcome: result.duplicate ? 'duplicate' : 'accepted' };
    });
  }

  /** The eventIds of firing alerts whose resolve is known, or comes in the same notification. */
  private async resolvedAlready(events: RelayedAlertEvent[]): Promise<Set<string>> {
    const inThisOne = new Set(events.map((event) => event.eventId));
    const firing = events
      .filter((event) => event.status === 'firing')
      .map((event) => ({
        eventId: event.eventId,
        resolveId: relayedEventId(event.fingerprint, event.startsAt, 'resolved'),
      }));
    const known = await Promise.all(
      firing.map(({ resolveId }) =>
        inThisOne.has(resolveId) ? true : this.store.locate(resolveId),
      ),
    ).catch((error: unknown) => {
      throw new PublishFailedError(ALERTS_STREAM, error);
    });
    return new Set(firing.filter((_, i) => known[i]).map(({ eventId }) => eventId));
  }
}

/** The first of each eventId: a notification naming one alert twice appends it once. */
function distinct(events: RelayedAlertEvent[]): RelayedAlertEvent[] {
  const seen = new Set<string>();
  return events.filter((event) => !seen.has(event.eventId) && seen.add(event.eventId));
}
