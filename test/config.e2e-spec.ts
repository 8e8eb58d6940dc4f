import { MainProcess } from './support/main-process.js';

/** Startup with a bad configuration must fail fast: no Redis connection, no HTTP server. */
const EXIT_BOUND_MS = 5_000;

describe('startup with an invalid configuration', () => {
  const started: MainProcess[] = [];

  afterAll(async () => {
    await Promise.all(started.map((main) => main.kill()));
  });

  function start(env: Record<string, string>): MainProcess {
    const main = MainProcess.start(env);
    started.push(main);
    return main;
  }

  it('exits 1 and names every invalid variable on stderr', async () => {
    const main = start({
      PORT: 'abc',
      REDIS_URL: 'http://x',
      RETRY_MAX_ATTEMPTS: '0',
      RETRY_BACKOFF_BASE_MS: '5000',
      RETRY_BACKOFF_MAX_MS: '100',
      LOG_LEVEL: 'chatty',
    });
    const startedAt = Date.now();
    const exit = await main.exit(EXIT_BOUND_MS);
    expect(Date.now() - startedAt).toBeLessThan(EXIT_BOUND_MS);
    expect(exit).toEqual({ code: 1, signal: null });
    for (const name of [
      'PORT',
      'REDIS_URL',
      'RETRY_MAX_ATTEMPTS',
      'RETRY_BACKOFF_MAX_MS',
      'LOG_LEVEL',
    ]) {
      expect(main.stderr).toMatch(new RegExp(`^  - ${name}: `, 'm'));
    }
    expect(main.stderr).toContain('5 environment variable(s) have a problem');
    // The list is the whole output: no stack trace, no Nest start-up lines.
    expect(main.stderr).not.toMatch(/^\s+at /m);
    expect(main.stdout).toBe('');
  });

  it('exits 1 when REDIS_MODE lacks its variables or has those of another mode', async () => {
    const sentinelPassword = 'sentinel-password-that-must-not-leak';
    const main = start({
      REDIS_MODE: 'sentinel',
      REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001',
      REDIS_SENTINEL_PASSWORD: sentinelPassword,
    });
    const exit = await main.exit(EXIT_BOUND_MS);
    expect(exit).toEqual({ code: 1, signal: null });
    expect(main.stderr).toContain('3 environment variable(s) have a problem');
    expect(main.stderr).toMatch(/^ {2}- REDIS_SENTINELS: is required with REDIS_MODE=sentinel: /m);
    expect(main.stderr).toMatch(/^ {2}- REDIS_SENTINEL_NAME: .*required with REDIS_MODE=sentinel/m);
    expect(main.stderr).toMatch(
      /^ {2}- REDIS_CLUSTER_NODES: is only used with REDIS_MODE=cluster \(REDIS_MODE is sentinel\)/m,
    );
    expect(main.stderr + main.stdout).not.toContain(sentinelPassword);
    expect(main.stdout).toBe('');
  });

  it('never prints the password of REDIS_URL or the API key', async () => {
    const password = 'p4ssw0rd-that-must-not-leak';
    const apiKey = 'short-api-key';
    const main = start({
      REDIS_URL: `https://alerts:${password}@redis.internal:6379`,
      API_KEY: apiKey,
      PORT: '-1',
    });
    const exit = await main.exit(EXIT_BOUND_MS);
    expect(exit.code).toBe(1);
    expect(main.stderr).toMatch(/^ {2}- REDIS_URL: /m);
    expect(main.stderr).toMatch(/^ {2}- API_KEY: /m);
    expect(main.stderr).toMatch(/^ {2}- PORT: /m);
    expect(main.stderr + main.stdout).not.toContain(password);
    expect(main.stderr + main.stdout).not.toContain(apiKey);
  });
});
