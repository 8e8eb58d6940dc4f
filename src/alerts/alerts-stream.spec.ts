import { alertsConfig } from '../config/alerts.config.js';
import { validate } from '../config/env.validation.js';
import { retentionRules } from '../redis-streams/stream-declarations.js';
import { alertsStream } from './alerts-stream.js';

/** The alerts stream as the environment `env` declares it. */
function declared(env: Record<string, string>) {
  const feature = alertsStream(alertsConfig(validate(env)));
  return { partitions: feature.partitions, retention: retentionRules(feature) };
}

describe('alertsStream', () => {
  it('bounds a fresh install: the default configuration trims the alerts stream by count and age', () => {
    expect(declared({})).toEqual({
      partitions: undefined,
      retention: [
        { stream: 'alerts', maxLen: 1_000_000, maxAgeMs: 7 * 24 * 60 * 60 * 1_000 },
        { stream: 'alerts:dlq', alarmLength: 1_000 },
      ],
    });
  });

  it('keeps the alerts for ever when both limits are set to 0, but still watches the dead letters', () => {
    expect(declared({ RETENTION_MAX_LEN: '0', RETENTION_MAX_AGE_MS: '0' }).retention).toEqual([
      { stream: 'alerts:dlq', alarmLength: 1_000 },
    ]);
    expect(
      declared({ RETENTION_MAX_LEN: '0', RETENTION_MAX_AGE_MS: '0', DEAD_LETTER_ALARM_COUNT: '0' })
        .retention,
    ).toEqual([{ stream: 'alerts:dlq' }]);
  });

  it('caps the alerts stream by count and age but never its dead letters', () => {
    expect(
      declared({ RETENTION_MAX_LEN: '500', RETENTION_MAX_AGE_MS: '3600000' }).retention,
    ).toEqual([
      { stream: 'alerts', maxLen: 500, maxAgeMs: 3_600_000 },
      { stream: 'alerts:dlq', alarmLength: 1_000 },
    ]);
  });

  it('gives dead letters only their own age limit, and watches their count', () => {
    expect(
      declared({
        RETENTION_MAX_LEN: '100',
        RETENTION_MAX_AGE_MS: '0',
        DEAD_LETTER_MAX_AGE_MS: '86400000',
        DEAD_LETTER_ALARM_COUNT: '50',
      }).retention,
    ).toEqual([
      { stream: 'alerts', maxLen: 100 },
      { stream: 'alerts:dlq', maxAgeMs: 86_400_000, alarmLength: 50 },
    ]);
  });

  it('splits the alerts stream into partitions, and keeps each one and its dead letters in bounds', () => {
    expect(
      declared({
        ALERTS_PARTITIONS: '2',
        RETENTION_MAX_LEN: '1000',
        RETENTION_MAX_AGE_MS: '0',
        DEAD_LETTER_ALARM_COUNT: '0',
      }),
    ).toEqual({
      partitions: 2,
      retention: [
        { stream: 'alerts:{0}', maxLen: 1_000 },
        { stream: 'alerts:{1}', maxLen: 1_000 },
        { stream: 'alerts:{0}:dlq' },
        { stream: 'alerts:{1}:dlq' },
      ],
    });
  });
});
