import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigValidationError, ENV_VARIABLE_NAMES, validate } from './env.validation.js';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    validate(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigValidationError);
    return (error as ConfigValidationError).problems;
  }
  throw new Error('validate() accepted an invalid environment');
}

describe('validate', () => {
  it('fills in every default when nothing is set', () => {
    const env = validate({});
    expect(env).toMatchObject({
      PORT: 3000,
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_TLS_CA_FILE: undefined,
      API_KEY: undefined,
      ALERTS_WEBHOOK_URL: undefined,
      ALERTS_WEBHOOK_TIMEOUT_MS: 5000,
      ALERTS_WEBHOOK_RATE_LIMIT: undefined,
      ALERTS_DELIVERY_MAX_AGE_MS: 21_600_000,
      RETRY_MAX_ATTEMPTS: 5,
      RETRY_BACKOFF_BASE_MS: 1000,
      RETRY_BACKOFF_MAX_MS: 60000,
      CLAIM_MIN_IDLE_MS: 30000,
      SHUTDOWN_TIMEOUT_MS: 10000,
      CONSUMER_BATCH_SIZE: 16,
      CONSUMER_CONCURRENCY: 8,
      CONSUMER_BLOCK_MS: 2000,
      PUBLISH_TIMEOUT_MS: 2000,
      HTTP_BODY_LIMIT_BYTES: 65536,
      ALERTMANAGER_BODY_LIMIT_BYTES: 4_194_304,
      ALERTMANAGER_MAX_ALERTS: 1_000,
      LOG_LEVEL: 'log',
      RETENTION_MAX_LEN: 1_000_000,
      RETENTION_MAX_AGE_MS: 604_800_000,
      DEAD_LETTER_MAX_AGE_MS: 0,
      DEAD_LETTER_ALARM_COUNT: 1_000,
    });
    expect(env.CONSUMER_NAME).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
  });

  it('converts numeric strings and keeps other variables of the environment', () => {
    const env = validate({
      PORT: '8080',
      REDIS_URL: 'rediss://alerts:s3cret@redis.internal:6380/2',
      RETRY_BACKOFF_BASE_MS: '500',
      RETRY_BACKOFF_MAX_MS: '500',
      API_KEY: 'a-key-of-sixteen-chars',
      ALERTS_WEBHOOK_URL: 'http://127.0.0.1:9999/hook',
      CONSUMER_NAME: 'alerts-1.eu_west',
      LOG_LEVEL: 'debug',
      PATH: '/usr/bin',
    });
    expect(env).toMatchObject({
      PORT: 8080,
      RETRY_BACKOFF_BASE_MS: 500,
      RETRY_BACKOFF_MAX_MS: 500,
      CONSUMER_NAME: 'alerts-1.eu_west',
      LOG_LEVEL: 'debug',
      PATH: '/usr/bin',
    });
  });

  it('treats an empty value as unset', () => {
    const env = validate({ PORT: '', API_KEY: '', ALERTS_WEBHOOK_URL: '' });
    expect(env.PORT).toBe(3000);
    expect(env.API_KEY).toBeUndefined();
    expect(env.ALERTS_WEBHOOK_URL).toBeUndefined();
  });

  it('lists every problem at once, one line per variable', () => {
    const problems = problemsOf({
      PORT: 'abc',
      REDIS_URL: 'http://x',
      REDIS_TLS_CA_FILE: '/nowhere/ca.pem',
      API_KEY: 'short',
      ALERTS_WEBHOOK_URL: 'ftp://example.com/hook',
      ALERTS_WEBHOOK_TIMEOUT_MS: '0',
      CONSUMER_NAME: 'has spaces!',
      RETRY_MAX_ATTEMPTS: '0',
      RETRY_BACKOFF_BASE_MS: '2000',
      RETRY_BACKOFF_MAX_MS: '1000',
      CLAIM_MIN_IDLE_MS: '999',
      SHUTDOWN_TIMEOUT_MS: '-1',
      CONSUMER_BATCH_SIZE: '1.5',
      CONSUMER_CONCURRENCY: 'many',
      CONSUMER_BLOCK_MS: '0',
      PUBLISH_TIMEOUT_MS: 'x',
      HTTP_BODY_LIMIT_BYTES: '0',
      ALERTMANAGER_MAX_ALERTS: '100001',
      LOG_LEVEL: 'loud',
    });
    const named = problems.map((problem) => problem.split(':')[0]);
    expect(named.sort()).toEqual(
      [
        'PORT',
        'REDIS_URL',
        'REDIS_TLS_CA_FILE',
        'API_KEY',
        'ALERTS_WEBHOOK_URL',
        'ALERTS_WEBHOOK_TIMEOUT_MS',
        'CONSUMER_NAME',
        'RETRY_MAX_ATTEMPTS',
        'RETRY_BACKOFF_MAX_MS',
        'CLAIM_MIN_IDLE_MS',
        'SHUTDOWN_TIMEOUT_MS',
        'CONSUMER_BATCH_SIZE',
        'CONSUMER_CONCURRENCY',
        'CONSUMER_BLOCK_MS',
        'PUBLISH_TIMEOUT_MS',
        'HTTP_BODY_LIMIT_BYTES',
        'ALERTMANAGER_MAX_ALERTS',
        'LOG_LEVEL',
      ].sort(),
    );
    expect(problems).toContain('PORT: must be a whole number from 0 to 65535 (got "abc")');
    expect(problems).toContain(
      'RETRY_MAX_ATTEMPTS: must be a whole number from 1 to 100 (got "0")',
    );
    expect(problems).toContain(
      'RETRY_BACKOFF_MAX_MS: must be at least RETRY_BACKOFF_BASE_MS (2000) (got "1000")',
    );
    expect(problems.find((p) => p.startsWith('REDIS_URL'))).toContain('its scheme is http://');
    expect(problems.find((p) => p.startsWith('LOG_LEVEL'))).toContain(
      'must be one of error, warn, log, debug, verbose',
    );
  });

  it('accepts 0 for the retention limits (keep everything), and lists every retention problem at once', () => {
    expect(
      validate({ RETENTION_MAX_LEN: '0', RETENTION_MAX_AGE_MS: '0', DEAD_LETTER_MAX_AGE_MS: '0' }),
    ).toMatchObject({ RETENTION_MAX_LEN: 0, RETENTION_MAX_AGE_MS: 0, DEAD_LETTER_MAX_AGE_MS: 0 });
    const problems = problemsOf({
      RETENTION_MAX_LEN: '-1',
      RETENTION_MAX_AGE_MS: '7',
      RETENTION_INTERVAL_MS: '10',
      DEAD_LETTER_MAX_AGE_MS: '30d',
      DEAD_LETTER_ALARM_COUNT: '1.5',
    });
    expect(problems).toEqual([
      'RETENTION_MAX_LEN: must be a whole number of at least 0 (got "-1")',
      'RETENTION_MAX_AGE_MS: must be 0 (no age limit) or a whole number of at least 3600000 (got "7")',
      'RETENTION_INTERVAL_MS: must be a whole number of at least 100 (got "10")',
      'DEAD_LETTER_MAX_AGE_MS: must be 0 (keep dead letters) or a whole number of at least 3600000 (got "30d")',
      'DEAD_LETTER_ALARM_COUNT: must be a whole number of at least 0 (got "1.5")',
    ]);
  });

  it('takes a webhook rate limit in calls per second, fractions too, and a delivery deadline', () => {
    expect(
      validate({ ALERTS_WEBHOOK_RATE_LIMIT: '0.5', ALERTS_DELIVERY_MAX_AGE_MS: '0' }),
    ).toMatchObject({ ALERTS_WEBHOOK_RATE_LIMIT: 0.5, ALERTS_DELIVERY_MAX_AGE_MS: 0 });
    expect(
      validate({ ALERTS_WEBHOOK_RATE_LIMIT: '20', ALERTS_DELIVERY_MAX_AGE_MS: '60000' }),
    ).toMatchObject({ ALERTS_WEBHOOK_RATE_LIMIT: 20, ALERTS_DELIVERY_MAX_AGE_MS: 60_000 });
    for (const [rate, maxAge] of [
      ['0', '6'],
      ['-5', '-1'],
      ['fast', '6h'],
      ['100001', '59999'],
    ]) {
      const problems = problemsOf({
        ALERTS_WEBHOOK_RATE_LIMIT: rate,
        ALERTS_DELIVERY_MAX_AGE_MS: maxAge,
        PORT: 'abc',
      });
      expect(problems).toEqual([
        'PORT: must be a whole number from 0 to 65535 (got "abc")',
        `ALERTS_WEBHOOK_RATE_LIMIT: must be a number of calls per second above 0 and at most 100000, such as 5 or 0.5 (got "${rate}")`,
        `ALERTS_DELIVERY_MAX_AGE_MS: must be 0 (no deadline) or a whole number of at least 60000 (got "${maxAge}")`,
      ]);
    }
  });

  it('puts all problems in the message of a single error', () => {
    expect(() => validate({ PORT: 'abc', REDIS_URL: 'http://x', RETRY_MAX_ATTEMPTS: '0' })).toThrow(
      /3 environment variable\(s\)[\s\S]*PORT[\s\S]*REDIS_URL[\s\S]*RETRY_MAX_ATTEMPTS/,
    );
  });

  it('never repeats a password, an API key or a webhook URL', () => {
    let message = '';
    try {
      validate({
        REDIS_URL: 'http://alerts:hunter2-redis-password@redis.internal:6379',
        API_KEY: 'tooShortKey1',
        ALERTS_WEBHOOK_URL: 'ftp://hooks.example.com/T000/B000/webhook-token-xyz',
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('REDIS_URL');
    expect(message).toContain('API_KEY');
    expect(message).toContain('ALERTS_WEBHOOK_URL');
    expect(message).not.toContain('hunter2-redis-password');
    expect(message).not.toContain('tooShortKey1');
    expect(message).not.toContain('webhook-token-xyz');
    expect(message).not.toContain('redis.internal');
  });

  it('says why an unparsable Redis URL is wrong without repeating it', () => {
    const [problem] = problemsOf({ REDIS_URL: 'not a url :secret@' });
    expect(problem).toMatch(/^REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL/);
    expect(problem).toContain('it is not a URL');
    expect(problem).not.toContain('secret');
  });

  describe('ALERTS_RECEIVERS_FILE', () => {
    let dir: string;
    beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'env-receivers-'))));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    function file(text: string): string {
      const path = join(dir, `${Math.random().toString(36).slice(2)}.yml`);
      writeFileSync(path, text);
      return path;
    }

    it('lists the problems of the file among those of the other variables, one per line', () => {
      const path = file('receivers:\n  - name: a\n    url: ${HOOK}\n    matchers: ["team=~(db"]\n');
      expect(problemsOf({ ALERTS_RECEIVERS_FILE: path, PORT: 'x' })).toEqual([
        expect.stringMatching(/^PORT: /),
        'ALERTS_RECEIVERS_FILE: receivers[0] (a): url: references ${HOOK}, which is not set',
        expect.stringMatching(
          /^ALERTS_RECEIVERS_FILE: receivers\[0\] \(a\): matchers\[0\]: has an invalid regular expression/,
        ),
      ]);
    });

    it('refuses it together with ALERTS_WEBHOOK_URL, and ALERTS_WEBHOOK_RATE_LIMIT with it', () => {
      const path = file('receivers:\n  - name: a\n    url: https://hooks.example.com/a\n');
      expect(
        problemsOf({
          ALERTS_RECEIVERS_FILE: path,
          ALERTS_WEBHOOK_URL: 'https://hooks.example.com/b',
          ALERTS_WEBHOOK_RATE_LIMIT: '5',
        }),
      ).toEqual([
        expect.stringMatching(
          /^ALERTS_RECEIVERS_FILE: cannot be set together with ALERTS_WEBHOOK_URL/,
        ),
        expect.stringMatching(/^ALERTS_WEBHOOK_RATE_LIMIT: is only used with ALERTS_WEBHOOK_URL/),
      ]);
    });

    it('takes a valid file, with secrets from the environment', () => {
      const path = file('receivers:\n  - name: a\n    url: ${HOOK}\n');
      expect(
        validate({ ALERTS_RECEIVERS_FILE: path, HOOK: 'https://h.example.com/x' }),
      ).toMatchObject({ ALERTS_RECEIVERS_FILE: path });
    });

    it('says when the file is missing, without reading it', () => {
      expect(problemsOf({ ALERTS_RECEIVERS_FILE: join(dir, 'none.yml') })).toEqual([
        expect.stringMatching(/^ALERTS_RECEIVERS_FILE: must be the path of an existing file/),
      ]);
    });
  });

  describe('REDIS_TLS_CA_FILE', () => {
    let dir: string;
    let caFile: string;

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'env-validation-'));
      caFile = join(dir, 'ca.pem');
      writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\n');
    });

    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('accepts an existing file with a rediss:// URL', () => {
      const env = validate({
        REDIS_URL: 'rediss://redis.internal:6380',
        REDIS_TLS_CA_FILE: caFile,
      });
      expect(env.REDIS_TLS_CA_FILE).toBe(caFile);
    });

    it('refuses a folder', () => {
      const problems = problemsOf({ REDIS_URL: 'rediss://redis.internal', REDIS_TLS_CA_FILE: dir });
      expect(problems).toEqual([expect.stringMatching(/^REDIS_TLS_CA_FILE: must be the path/)]);
    });

    it('refuses a CA with a plain redis:// URL', () => {
      const problems = problemsOf({
        REDIS_URL: 'redis://redis.internal',
        REDIS_TLS_CA_FILE: caFile,
      });
      expect(problems).toEqual([expect.stringContaining('set REDIS_URL to a rediss:// URL')]);
    });
  });

  describe('REDIS_MODE', () => {
    const nodes = '10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000';
    const sentinels = '10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379';

    it('is standalone by default, and reads the variables of each mode', () => {
      expect(validate({}).REDIS_MODE).toBe('standalone');
      expect(
        validate({ REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: nodes, ALERTS_PARTITIONS: '3' }),
      ).toMatchObject({
        REDIS_MODE: 'cluster',
        REDIS_CLUSTER_NODES: nodes,
      });
      expect(
        validate({
          REDIS_MODE: 'sentinel',
          REDIS_SENTINELS: sentinels,
          REDIS_SENTINEL_NAME: 'alerts-master',
          REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
        }),
      ).toMatchObject({ REDIS_MODE: 'sentinel', REDIS_SENTINEL_NAME: 'alerts-master' });
    });

    it('keeps the default REDIS_URL of .env.example in the other modes, but no other URL', () => {
      expect(() =>
        validate({
          REDIS_MODE: 'cluster',
          REDIS_CLUSTER_NODES: nodes,
          ALERTS_PARTITIONS: '3',
          REDIS_URL: 'redis://127.0.0.1:6379',
        }),
      ).not.toThrow();
      const problems = problemsOf({
        REDIS_MODE: 'cluster',
        REDIS_CLUSTER_NODES: nodes,
        ALERTS_PARTITIONS: '3',
        REDIS_URL: 'redis://alerts:hunter2@redis.internal:6379',
      });
      expect(problems).toEqual([
        'REDIS_URL: is only used with REDIS_MODE=standalone; unset it (REDIS_MODE is cluster, which finds Redis through REDIS_CLUSTER_NODES)',
      ]);
    });

    it('requires the node list in cluster mode', () => {
      expect(problemsOf({ REDIS_MODE: 'cluster', ALERTS_PARTITIONS: '3' })).toEqual([
        'REDIS_CLUSTER_NODES: is required with REDIS_MODE=cluster: a comma-separated list of host:port such as 10.0.0.1:7000,10.0.0.2:7000',
      ]);
    });

    it('requires the Sentinels and the master name in sentinel mode, both at once', () => {
      const problems = problemsOf({ REDIS_MODE: 'sentinel' });
      expect(problems.map((problem) => problem.split(':')[0]).sort()).toEqual([
        'REDIS_SENTINELS',
        'REDIS_SENTINEL_NAME',
      ]);
      expect(problems.find((p) => p.startsWith('REDIS_SENTINELS'))).toContain(
        'is required with REDIS_MODE=sentinel',
      );
      expect(problems.find((p) => p.startsWith('REDIS_SENTINEL_NAME'))).toContain(
        'required with REDIS_MODE=sentinel',
      );
    });

    it('refuses variables of another mode, and lists them with the other problems', () => {
      const problems = problemsOf({
        REDIS_CLUSTER_NODES: nodes,
        REDIS_SENTINELS: sentinels,
        REDIS_SENTINEL_NAME: 'alerts-master',
        REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
        PORT: 'abc',
      });
      expect(problems.map((problem) => problem.split(':')[0]).sort()).toEqual([
        'PORT',
        'REDIS_CLUSTER_NODES',
        'REDIS_SENTINELS',
        'REDIS_SENTINEL_NAME',
        'REDIS_SENTINEL_PASSWORD',
      ]);
      expect(problems).toContain(
        'REDIS_CLUSTER_NODES: is only used with REDIS_MODE=cluster (REDIS_MODE is standalone): unset it or set REDIS_MODE=cluster',
      );
      expect(problems.join('\n')).not.toContain('sentinel-secret');
    });

    it('refuses an unknown mode', () => {
      expect(problemsOf({ REDIS_MODE: 'clustered' })).toEqual([
        'REDIS_MODE: must be one of standalone, cluster, sentinel (got "clustered")',
      ]);
    });

    it('names the entry that is not host:port, but never one that holds a password', () => {
      const [bad] = problemsOf({
        REDIS_MODE: 'cluster',
        REDIS_CLUSTER_NODES: '10.0.0.1:7000,redis-2',
        ALERTS_PARTITIONS: '3',
      });
      expect(bad).toBe(
        'REDIS_CLUSTER_NODES: must be a comma-separated list of host:port such as 10.0.0.1:7000,10.0.0.2:7000 ("redis-2" is not host:port)',
      );
      const [url] = problemsOf({
        REDIS_MODE: 'sentinel',
        REDIS_SENTINELS: 'redis://:hunter2@10.0.0.1:26379',
        REDIS_SENTINEL_NAME: 'alerts-master',
      });
      expect(url).toMatch(/^REDIS_SENTINELS: .*without a scheme, user or password/);
      expect(url).not.toContain('hunter2');
    });

    it('asks for alerts partitions on Cluster, where one unpartitioned stream cannot work', () => {
      expect(problemsOf({ REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: nodes })).toEqual([
        'ALERTS_PARTITIONS: must be at least 1 with REDIS_MODE=cluster: the alerts stream must be hash-tagged partitions (alerts:{0}, ...) so that its keys stay in one slot',
      ]);
      const env = validate({
        REDIS_MODE: 'cluster',
        REDIS_CLUSTER_NODES: nodes,
        ALERTS_PARTITIONS: '6',
      });
      expect(env.ALERTS_PARTITIONS).toBe(6);
    });

    it('refuses what does not work on Cluster yet: a TLS CA file', () => {
      const problems = problemsOf({
        REDIS_MODE: 'cluster',
        REDIS_CLUSTER_NODES: nodes,
        ALERTS_PARTITIONS: '3',
        REDIS_WAIT_REPLICAS: '1',
        REDIS_TLS_CA_FILE: new URL(import.meta.url).pathname,
      });
      expect(problems).toEqual([
        'REDIS_TLS_CA_FILE: is only used with REDIS_MODE=standalone: TLS to a Cluster or through Sentinel is not supported yet' +
          ` (got ${JSON.stringify(new URL(import.meta.url).pathname.slice(0, 80) + (new URL(import.meta.url).pathname.length > 80 ? '...' : ''))})`,
      ]);
    });
  });

  it('has every variable documented in .env.example', () => {
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    for (const name of ENV_VARIABLE_NAMES) {
      expect(example).toMatch(new RegExp(`^(# )?${name}=`, 'm'));
    }
  });
});
