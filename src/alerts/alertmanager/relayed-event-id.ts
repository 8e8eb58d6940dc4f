import { createHash } from 'node:crypto';
import type { AlertStatus } from '../alerts.constants.js';
import {
  DERIVED_FINGERPRINT_LENGTH,
  RELAYED_EVENT_ID_HASH_LENGTH,
  RELAYED_EVENT_ID_PREFIX,
} from './alertmanager.constants.js';

/**
 * The eventId of one state of one alert: its fingerprint, when it began, and whether it fires or
 * resolved. Alertmanager sends an alert again and again (repeat_interval, each change of its
 * group, its own retries, every member of an HA pair); all of those give the same id, so the
 * stream takes it once. The firing and the resolve of an alert get two ids; the next time the
 * alert fires, it has a new start time, so a new id. `startsAt` is normalized (UTC,
 * milliseconds): two Alertmanagers in other time zones write the same instant differently.
 */
export function relayedEventId(fingerprint: string, startsAt: string, status: AlertStatus): string {
  const hash = createHash('sha256').update(`${fingerprint}\n${startsAt}\n${status}`).digest('hex');
  return `${RELAYED_EVENT_ID_PREFIX}${hash.slice(0, RELAYED_EVENT_ID_HASH_LENGTH)}`;
}

/**
 * A fingerprint for an alert that came without one: a hash of its labels, sorted by name, which
 * is what makes an alert itself for Alertmanager too.
 */
export function labelsFingerprint(labels: Record<string, string>): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(labels).sort()) {
    // Separators that a label cannot hold keep {a:"b\nc"} apart from {a:"b", c:""}.
    hash.update(`${name}\u0000${labels[name]}\u0001`);
  }
  return hash.digest('hex').slice(0, DERIVED_FINGERPRINT_LENGTH);
}
