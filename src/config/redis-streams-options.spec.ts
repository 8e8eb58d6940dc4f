import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppConfig } from './app.config.js';
import type { RedisConfig } from './redis.config.js';
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
  batchSize: 16,
  concurrency: 8,
  blockMs: 2_000,
  retentionIntervalMs: 10_000,
  waitForReplicas: { replicas: 0, timeoutMs: 1_000 },
};

const app: AppConfig = {
  role: 'all',
  port: 3000,
  apiKey: undefined,
  bodyLimitBytes: 65_536,
  alertmanager: { bodyLimitBytes: 4_194_304, maxAlerts: 1_000 },
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

  it('runs no consumers and no retention in the api role, and both in the others', () => {
    expect(redisStreamsOptions(redis, { ...app, role: 'api' })).toMatchObject({
      consumersEnabled: false,
      retentionEnabled: false,
    });
    for (const role of ['all', 'worker'] as const) {
      const options = redisStreamsOptions(redis, { ...app, role });
      expect(options.consumersEnabled).toBeUndefined();
      expect(options.retentionEnabled).toBeUndefined();
    }
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

  it('waits for replicas only when asked', () => {
    const options = redisStreamsOptions(
      { ...redis, waitForReplicas: { replicas: 2, timeoutMs: 300 } },
      app,
    );
    expect(options.waitForReplicas).toEqual({ replicas: 2, timeoutMs: 300 });
  });

  it('leaves the streams to the modules that own them', () => {
    const options = redisStreamsOptions(redis, app);
    expect(options.partitions).toBeUndefined();
    expect(options.retention).toBeUndefined();
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
});
