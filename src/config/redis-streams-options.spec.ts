import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppConfig } from './app.config.js';
import type { RedisConfig } from './redis.config.js';
import { redisStreamsOptions } from './redis-streams-options.js';

const redis: RedisConfig = {
  url: 'redis://127.0.0.1:6379',
  tlsCaFile: undefined,
  consumerName: 'alerts-1',
  claimMinIdleMs: 30_000,
  publishTimeoutMs: 2_000,
  retry: { maxAttempts: 5, backoffBaseMs: 1_000, backoffMaxMs: 60_000 },
  batchSize: 16,
  concurrency: 8,
  blockMs: 2_000,
};

const app: AppConfig = {
  port: 3000,
  apiKey: undefined,
  bodyLimitBytes: 65_536,
  logLevel: 'log',
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
      handlerDefaults: {
        batchSize: 16,
        concurrency: 8,
        blockMs: 2_000,
        maxAttempts: 5,
        backoff: { baseMs: 1_000, maxMs: 60_000 },
      },
    });
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
