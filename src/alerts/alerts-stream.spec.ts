import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test } from '@nestjs/testing';
import { RedisStreamsModule, StreamDeclarations } from '@redis-streams-alerts/nestjs-redis-streams';
import { alertsConfig } from '../config/alerts.config.js';
import { validate } from '../config/env.validation.js';
import { alertsStream, perSecond } from './alerts-stream.js';

/**
 * The alerts stream as the environment `env` declares it, as the library reads the declaration:
 * its partitions, and the retention rules of each partition and its dead letters. Nothing connects
 * to Redis (`lazyConnect`): declarations are read without it.
 */
async function declared(env: Record<string, string>) {
  const moduleRef = await Test.createTestingModule({
    imports: [
      RedisStreamsModule.forRoot({
        url: 'redis://127.0.0.1:1',
        consumerName: 'alerts-stream-spec',
        redis: { lazyConnect: true },
      }),
      RedisStreamsModule.forFeature(alertsStream(alertsConfig(validate(env)))),
    ],
  }).compile();
  try {
    const declarations = moduleRef.get(StreamDeclarations);
    return { partitions: declarations.partitionsOf('alerts'), retention: declarations.retention() };
  } finally {
    await moduleRef.close();
  }
}

describe('alertsStream', () => {
  it('bounds a fresh install: the default configuration trims the alerts stream by count and age', async () => {
    expect(await declared({})).toEqual({
      partitions: undefined,
      retention: [
        { stream: 'alerts', maxLen: 1_000_000, maxAgeMs: 7 * 24 * 60 * 60 * 1_000 },
        { stream: 'alerts:dlq', alarmLength: 1_000 },
      ],
    });
  });

  it('keeps the alerts for ever when both limits are set to 0, but still watches the dead letters', async () => {
    expect(
      (await declared({ RETENTION_MAX_LEN: '0', RETENTION_MAX_AGE_MS: '0' })).retention,
    ).toEqual([{ stream: 'alerts:dlq', alarmLength: 1_000 }]);
    expect(
      (
        await declared({
          RETENTION_MAX_LEN: '0',
          RETENTION_MAX_AGE_MS: '0',
          DEAD_LETTER_ALARM_COUNT: '0',
        })
      ).retention,
    ).toEqual([{ stream: 'alerts:dlq' }]);
  });

  it('caps the alerts stream by count and age but never its dead letters', async () => {
    expect(
      (await declared({ RETENTION_MAX_LEN: '500', RETENTION_MAX_AGE_MS: '3600000' })).retention,
    ).toEqual([
      { stream: 'alerts', maxLen: 500, maxAgeMs: 3_600_000 },
      { stream: 'alerts:dlq', alarmLength: 1_000 },
    ]);
  });

  it('gives dead letters only their own age limit, and watches their count', async () => {
    expect(
      (
        await declared({
          RETENTION_MAX_LEN: '100',
          RETENTION_MAX_AGE_MS: '0',
          DEAD_LETTER_MAX_AGE_MS: '86400000',
          DEAD_LETTER_ALARM_COUNT: '50',
        })
      ).retention,
    ).toEqual([
      { stream: 'alerts', maxLen: 100 },
      { stream: 'alerts:dlq', maxAgeMs: 86_400_000, alarmLength: 50 },
    ]);
  });

  it('splits the alerts stream into partitions, and keeps each one and its dead letters in bounds', async () => {
    expect(
      await declared({
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

  it('gives the webhook group a delivery deadline of 6 hours and no rate limit by default', () => {
    expect(alertsStream(alertsConfig(validate({}))).groups).toEqual({
      'alerts-webhook': { maxAgeMs: 21_600_000 },
    });
  });

  it("sets the webhook group's rate limit and deadline from the environment; 0 is no deadline", () => {
    const env = { ALERTS_WEBHOOK_RATE_LIMIT: '5', ALERTS_DELIVERY_MAX_AGE_MS: '0' };
    expect(alertsStream(alertsConfig(validate(env))).groups).toEqual({
      'alerts-webhook': { rateLimit: { max: 5, perMs: 1_000 } },
    });
  });
});

describe('alertsStream with a receivers file', () => {
  it("gives each receiver's group its own rate limit and deadline", () => {
    const dir = mkdtempSync(join(tmpdir(), 'stream-receivers-'));
    try {
      const path = join(dir, 'receivers.yml');
      writeFileSync(
        path,
        [
          'receivers:',
          '  - { name: pager, url: "https://p.example.com", rateLimit: 0.5, maxAgeMs: 0 }',
          '  - { name: chat, url: "https://c.example.com" }',
        ].join('\n'),
      );
      expect(alertsStream(alertsConfig(validate({ ALERTS_RECEIVERS_FILE: path }))).groups).toEqual({
        'alerts-pager': { rateLimit: { max: 1, perMs: 2_000 } },
        'alerts-chat': { maxAgeMs: 21_600_000 },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('perSecond', () => {
  it.each([
    [5, { max: 5, perMs: 1_000 }],
    [1, { max: 1, perMs: 1_000 }],
    [0.5, { max: 1, perMs: 2_000 }],
    [0.1, { max: 1, perMs: 10_000 }],
    [2.5, { max: 3, perMs: 1_200 }],
    [100, { max: 100, perMs: 1_000 }],
  ])('turns %d calls per second into %j', (rate, limit) => {
    expect(perSecond(rate)).toEqual(limit);
  });

  it('keeps the rate within 0.1% for awkward fractions', () => {
    for (const rate of [0.3, 1.5, 7.7, 0.001, 33.3]) {
      const { max, perMs } = perSecond(rate);
      expect(Number.isInteger(max) && Number.isInteger(perMs)).toBe(true);
      expect(Math.abs((max * 1_000) / perMs - rate) / rate).toBeLessThan(0.001);
    }
  });
});
