import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appConfig, type AppConfig } from './app.config.js';
import { redisConfig, type RedisConfig } from './redis.config.js';
import { redisStreamsOptions } from './redis-streams-options.js';

const redis: RedisConfig = {
  mode: 'standalone',
  url: 'redis://127.0.0.1:6379',
  tlsCaFile: undefined,
  clusterNodes: [],
  sentinels: [],
  sentinelName: undefined,
  sentinelPassword: undefined,
  consumerName: 'alerts-1',
  claimMinIdleMs: 30_000,
  publishTimeoutMs: 2_000,
  retry: { maxAttempts: 5, backoffBaseMs: 1_000, backoffMaxMs: 60_000 },
  alertsPartitions: 0,
  batchSize: 16,
  concurrency: 8,
  blockMs: 2_000,
  retentionMaxLen: 0,
  retentionMaxAgeMs: 0,
  retentionIntervalMs: 10_000,
  deadLetterMaxAgeMs: 0,
  deadLetterAlarmCount: 0,
  waitForReplicas: { replicas: 0, timeoutMs: 1_000 },
};

const app: AppConfig = {
  port: 3000,
  apiKey: undefined,
  bodyLimitBytes: 65_536,
  logLevel: 'log',
  logFormat: 'text',
  shutdownTimeoutMs: 10_000,
};

describe('redisStreamsOptions', () => {
  it('maps the configuration to the module options', () => {
    expect(redisStreamsOptions(redis, app)).toEqual({
      url: 'redis://127.0.0.1:6379',
      redis: undefined,
      consumerName: 'alerts-1',
      claimMinIdleMs: 30_000,
      shutdownTimeoutMs: 10_000,
      publishTimeoutMs: 2_000,
      waitForReplicas: undefined,
      retention: [{ stream: 'alerts:dlq' }],
      retentionIntervalMs: 10_000,
      handlerDefaults: {
        batchSize: 16,
        concurrency: 8,
        blockMs: 2_000,
        maxAttempts: 5,
        backoff: { baseMs: 1_000, maxMs: 60_000 },
      },
    });
  });

  it('describes a Cluster by its nodes and a Sentinel-managed master by its Sentinels and name', () => {
    const nodes = [
      { host: '10.0.0.1', port: 7000 },
      { host: '10.0.0.2', port: 7000 },
    ];
    const cluster = redisStreamsOptions({ ...redis, mode: 'cluster', clusterNodes: nodes }, app);
    expect(cluster.url).toBeUndefined();
    expect(cluster.connection).toEqual({ mode: 'cluster', nodes });

    const sentinel = redisStreamsOptions(
      {
        ...redis,
        mode: 'sentinel',
        sentinels: nodes,
        sentinelName: 'alerts-master',
        sentinelPassword: 's3cret',
      },
      app,
    );
    expect(sentinel.url).toBeUndefined();
    expect(sentinel.connection).toEqual({
      mode: 'sentinel',
      sentinels: nodes,
      name: 'alerts-master',
      sentinelPassword: 's3cret',
    });
  });

  it('caps the alerts stream by count and age but never its dead letters, and waits for replicas when asked', () => {
    const options = redisStreamsOptions(
      {
        ...redis,
        retentionMaxLen: 500,
        retentionMaxAgeMs: 3_600_000,
        waitForReplicas: { replicas: 2, timeoutMs: 300 },
      },
      app,
    );
    expect(options.retention).toEqual([
      { stream: 'alerts', maxLen: 500, maxAgeMs: 3_600_000 },
      { stream: 'alerts:dlq' },
    ]);
    expect(options.waitForReplicas).toEqual({ replicas: 2, timeoutMs: 300 });
  });

  it('gives dead letters only their own age limit, and watches their count', () => {
    const options = redisStreamsOptions(
      {
        ...redis,
        retentionMaxLen: 100,
        deadLetterMaxAgeMs: 86_400_000,
        deadLetterAlarmCount: 50,
      },
      app,
    );
    expect(options.retention).toEqual([
      { stream: 'alerts', maxLen: 100 },
      { stream: 'alerts:dlq', maxAgeMs: 86_400_000, alarmLength: 50 },
    ]);
  });

  it('bounds a fresh install: the default configuration trims the alerts stream by count and age', () => {
    const saved = process.env;
    process.env = {};
    try {
      const options = redisStreamsOptions(redisConfig(), appConfig());
      expect(options.retention).toEqual([
        { stream: 'alerts', maxLen: 1_000_000, maxAgeMs: 7 * 24 * 60 * 60 * 1_000 },
        { stream: 'alerts:dlq', alarmLength: 1_000 },
      ]);
    } finally {
      process.env = saved;
    }
  });

  it('keeps the alerts for ever when both limits are set to 0', () => {
    const saved = process.env;
    process.env = { RETENTION_MAX_LEN: '0', RETENTION_MAX_AGE_MS: '0' };
    try {
      const options = redisStreamsOptions(redisConfig(), appConfig());
      expect(options.retention).toEqual([{ stream: 'alerts:dlq', alarmLength: 1_000 }]);
    } finally {
      process.env = saved;
    }
  });

  it('reads the TLS CA file when one is set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'redis-ca-'));
    try {
      const caFile = join(dir, 'ca.pem');
      writeFileSync(caFile, 'PEM');
      const options = redisStreamsOptions(
        { ...redis, url: 'rediss://redis.internal:6380', tlsCaFile: caFile },
        app,
      );
      expect(options.redis?.tls?.ca?.toString()).toBe('PEM');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('splits the alerts stream into partitions, and keeps each one and its dead letters in bounds', () => {
    const options = redisStreamsOptions(
      { ...redis, alertsPartitions: 2, retentionMaxLen: 1_000 },
      app,
    );
    expect(options.partitions).toEqual({ alerts: 2 });
    expect(options.retention).toEqual([
      { stream: 'alerts:{0}', maxLen: 1_000 },
      { stream: 'alerts:{1}', maxLen: 1_000 },
      { stream: 'alerts:{0}:dlq' },
      { stream: 'alerts:{1}:dlq' },
    ]);
  });
});
