import type { Redis } from 'ioredis';
import { appTestbed } from '../support/app-testbed.js';
import type { RunningApp } from '../support/test-app.js';
import { waitFor } from '../support/wait-for.js';

const USER = 'alerts';
const PASSWORD = 'acl-e2e-Pa55word-0f3c91';
const CONSUMER = 'acl-1';

/**
 * The commands a user needs to run the service with every feature on (retention and replica
 * acknowledgement included), on the stream and the keys derived from it (`~alerts*` would also
 * match `alertsfoo`). Redis checks the commands that Lua scripts call against the ACL too.
 */
const COMMANDS = [
  // Connection set-up (ioredis' ready check runs INFO) and the readiness probe.
  'ping',
  'info',
  'client|setname',
  // Lua scripts: EVALSHA, and EVAL when Redis lost its script cache.
  'evalsha',
  'eval',
  // Publishing, consuming, retries, dead letters, recovery of pending work.
  'xadd',
  'xreadgroup',
  'xack',
  'xgroup|create',
  'xpending',
  'xclaim',
  // The server's clock, in the script that takes back a consumer's own pending entries (which of
  // them a previous run may have started).
  'time',
  // Group housekeeping: consumers left by earlier rollouts, retry bookkeeping of finished entries.
  'xinfo|consumers',
  'xgroup|delconsumer',
  'hscan',
  // Retention (on by default), the storage alarm's size of each stream, and an alert's content,
  // read from its entry for GET /alerts (its record only points at it).
  'xlen',
  'xrange',
  // The stream metrics' newest entry.
  'xrevrange',
  'xinfo|groups',
  'xtrim',
  'memory|usage',
  // Replica acknowledgement (REDIS_WAIT_REPLICAS > 0).
  'wait',
  // Retry bookkeeping, alert records and the recent-alerts index.
  'hget',
  'hset',
  'hsetnx',
  'hgetall',
  'hdel',
  'hincrby',
  'zadd',
  'zrem',
  'zscore',
  'zrangebyscore',
  'zrevrange',
  'zremrangebyrank',
  'zremrangebyscore',
];

/**
 * Commands that would destroy the stream itself if allowed on its key (SET overwrites any type,
 * DEL deletes, PEXPIRE deletes later): Redis 7 selectors allow them only on the keys that need them.
 */
const SELECTORS = [
  // De-duplication of publishes, the marks of events an idempotent handler runs or ran, and what
  // a claim handed out (for a second run of the same call), also on the dead-letter stream.
  {
    keys: ['alerts:dedup:*', 'alerts:done:*', 'alerts:claim:*', 'alerts:dlq:claim:*'],
    commands: ['get', 'set', 'del'],
  },
  // Alert records and the recent-alerts index expire.
  { keys: ['alerts:record:*', 'alerts:recent'], commands: ['pexpire'] },
];

/** `ACL SETUSER alerts <these>`, as docs/operations.md documents it: keep the two the same. */
const ACL_RULES = [
  'reset',
  'on',
  `>${PASSWORD}`,
  '~alerts',
  '~alerts:*',
  'resetchannels',
  '-@all',
  ...COMMANDS.map((command) => `+${command}`),
  ...SELECTORS.map(
    ({ keys, commands }) =>
      `(${[...keys.map((key) => `~${key}`), ...commands.map((command) => `+${command}`)].join(' ')})`,
  ),
];

const GRANTED_COMMANDS = [...COMMANDS, ...SELECTORS.flatMap(({ commands }) => commands)];

/** Granted and needed, but only for what this run does not set up: a consumer idle for an hour. */
const USED_ONLY_NOW_AND_THEN = new Set(['xgroup|delconsumer']);

/**
 * Denials the service is built to live with: the start-up persistence check runs CONFIG GET and
 * only warns when it is refused. CONFIG GET would also reveal requirepass and masterauth, so it
 * stays out of the ACL.
 */
const TOLERATED_DENIALS = new Set(['command config|get']);

interface AclLogEntry {
  reason: string;
  object: string;
  username: string;
  context: string;
  'client-info': string;
}

function toObject(flat: unknown[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = String(flat[i + 1]);
  return record;
}

async function aclLog(admin: Redis): Promise<AclLogEntry[]> {
  const reply = (await admin.call('ACL', 'LOG', '1000')) as unknown[][];
  return reply.map((flat) => toObject(flat) as unknown as AclLogEntry);
}

/** `calls` per command from INFO commandstats (Redis counts commands run by Lua scripts too). */
async function commandCalls(admin: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const line of (await admin.info('commandstats')).split('\r\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (match) calls.set(match[1], Number(match[2]));
  }
  return calls;
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('running as a least-privilege ACL user', () => {
  const bed = appTestbed({
    webhook: (body, attempt) => {
      if (body.message === 'rejected by the webhook') return 400;
      if (body.message === 'fails once' && attempt === 1) return 500;
      return 200;
    },
  });
  let admin: Redis;
  let app: RunningApp;
  let leftPendingId: string;

  beforeAll(async () => {
    admin = bed.client;
    // A replica, so that REDIS_WAIT_REPLICAS=1 has something to wait for.
    await bed.startReplica();
    await admin.call('ACL', 'SETUSER', USER, ...ACL_RULES);

    // An entry a previous run of this consumer read and never finished: it must be recovered.
    await admin.xgroup('CREATE', 'alerts', 'alerts-webhook', '0', 'MKSTREAM');
    leftPendingId = (await admin.xadd(
      'alerts',
      '*',
      'message',
      'left pending by a crash',
      'source',
      'acl-e2e',
    ))!;
    await admin.xreadgroup(
      'GROUP',
      'alerts-webhook',
      CONSUMER,
      'COUNT',
      10,
      'STREAMS',
      'alerts',
      '>',
    );

    // From here on, what the counters and the ACL log show is the service's doing.
    await admin.config('RESETSTAT');
    await admin.call('ACL', 'LOG', 'RESET');

    app = await bed.start({
      REDIS_URL: bed.redis.urlAs(USER, PASSWORD),
      CONSUMER_NAME: CONSUMER,
      RETRY_MAX_ATTEMPTS: '3',
      RETRY_BACKOFF_BASE_MS: '100',
      RETRY_BACKOFF_MAX_MS: '200',
      CLAIM_MIN_IDLE_MS: '1000',
      CONSUMER_BLOCK_MS: '200',
      RETENTION_MAX_LEN: '2',
      RETENTION_INTERVAL_MS: '100',
      REDIS_WAIT_REPLICAS: '1',
      REDIS_WAIT_TIMEOUT_MS: '2000',
      PUBLISH_TIMEOUT_MS: '3000',
      SHUTDOWN_TIMEOUT_MS: '1000',
    });
  });

  async function post(message: string): Promise<string> {
    const response = await fetch(`${app.url}/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message, source: 'acl-e2e' }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json()) as { eventId: string };
    expect(response.status).toBe(202);
    return body.eventId;
  }

  async function recordOf(eventId: string, status: string): Promise<Record<string, unknown>> {
    return waitFor(async () => {
      const { status: code, body } = await getJson(`${app.url}/alerts/${eventId}`);
      return code === 200 && body.status === status ? body : undefined;
    }, `alert ${eventId} to be ${status}`);
  }

  it('publishes, delivers and records an alert', async () => {
    const eventId = await post('delivered at once');
    await waitFor(
      () => bed.receiver.deliveries.some((d) => d.body.eventId === eventId),
      'the webhook delivery',
    );
    expect(await recordOf(eventId, 'delivered')).toMatchObject({ attempts: 1 });
  });

  it('retries after a webhook 500 and then delivers', async () => {
    const eventId = await post('fails once');
    expect(await recordOf(eventId, 'delivered')).toMatchObject({ attempts: 2 });
    expect(bed.receiver.attempts(eventId)).toBe(2);
  });

  it('dead-letters an alert the webhook rejects with 400', async () => {
    const eventId = await post('rejected by the webhook');
    const record = await recordOf(eventId, 'dead-lettered');
    expect(record.lastError).toContain('400');
    const dead = await admin.xrange('alerts:dlq', '-', '+');
    expect(dead.some(([, fields]) => fields.includes(eventId))).toBe(true);
  });

  it('delivers an alert another producer wrote with XADD', async () => {
    const id = (await admin.xadd(
      'alerts',
      '*',
      'message',
      'written directly',
      'severity',
      'info',
    ))!;
    await waitFor(() => bed.receiver.deliveries.some((d) => d.body.id === id), 'the direct alert');
    expect(await recordOf(id, 'delivered')).toMatchObject({ severity: 'info' });
  });

  it('recovered the entry its previous run left pending', async () => {
    await waitFor(
      () => bed.receiver.deliveries.some((d) => d.body.id === leftPendingId),
      'the delivery of the entry left pending',
    );
    expect(await recordOf(leftPendingId, 'delivered')).toMatchObject({ attempts: 2 });
  });

  it('lists recent alerts', async () => {
    const { status, body } = await getJson(`${app.url}/alerts`);
    expect(status).toBe(200);
    expect((body.alerts as unknown[]).length).toBeGreaterThanOrEqual(5);
  });

  it('names its connections', async () => {
    const clients = (await admin.client('LIST')) as string;
    const names = clients
      .split('\n')
      .filter((line) => line.includes(` user=${USER} `))
      .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1]);
    expect(names).toContain(`${CONSUMER}:command`);
    expect(names.every((name) => name?.startsWith(`${CONSUMER}:`))).toBe(true);
  });

  it('was refused no command it needs (ACL LOG)', async () => {
    const denials = (await aclLog(admin))
      .filter((entry) => entry.username === USER)
      .map((entry) => `${entry.reason} ${entry.object}`);
    expect(denials.filter((denial) => !TOLERATED_DENIALS.has(denial))).toEqual([]);
  });

  it('used every command the ACL grants, so none of them is superfluous', async () => {
    // Retention runs on a timer; give it the time to trim once.
    const unused = await waitFor(
      async () => {
        const calls = await commandCalls(admin);
        const missing = GRANTED_COMMANDS.filter(
          (command) => !calls.get(command) && !USED_ONLY_NOW_AND_THEN.has(command),
        );
        return missing.length === 0 ? missing : undefined;
      },
      'every granted command to be used',
      5_000,
      100,
    ).catch(async () => {
      const calls = await commandCalls(admin);
      return GRANTED_COMMANDS.filter(
        (command) => !calls.get(command) && !USED_ONLY_NOW_AND_THEN.has(command),
      );
    });
    expect(unused).toEqual([]);
  });

  describe('a client logged in as that user', () => {
    let client: Redis;

    beforeAll(() => {
      client = bed.connect({ username: USER, password: PASSWORD, connectionName: 'acl-probe' });
    });

    it.each([
      ['SET a key outside the namespace', ['SET', 'other-key', 'x']],
      ['SET a key that only starts like it', ['SET', 'alertsfoo', 'x']],
      ['XADD to another stream', ['XADD', 'orders', '*', 'message', 'x']],
      ['HSET a hash outside the namespace', ['HSET', 'users:1', 'admin', 'true']],
      [
        'write outside the namespace from a script',
        ['EVAL', "return redis.call('SET', KEYS[1], 'x')", '1', 'other-key'],
      ],
      [
        'write an undeclared key from a script',
        ['EVAL', "return redis.call('SET', 'other-key', 'x')", '0'],
      ],
      ['delete the stream', ['DEL', 'alerts']],
      ['overwrite the stream', ['SET', 'alerts', 'x']],
      ['make the stream expire', ['PEXPIRE', 'alerts', '1']],
      ['make a dead letter expire', ['PEXPIRE', 'alerts:dlq', '1']],
      [
        'delete the stream from a script',
        ['EVAL', "return redis.call('DEL', KEYS[1])", '1', 'alerts'],
      ],
      ['delete stream entries', ['XDEL', 'alerts', '0-1']],
      ['move a group back', ['XGROUP', 'SETID', 'alerts', 'alerts-webhook', '0']],
      ['flush the database', ['FLUSHALL']],
      ['read the configuration', ['CONFIG', 'GET', 'requirepass']],
      ['change the configuration', ['CONFIG', 'SET', 'appendonly', 'no']],
      ['list keys', ['KEYS', '*']],
      ['change ACLs', ['ACL', 'SETUSER', USER, '+@all']],
    ])('cannot %s', async (_, [command, ...args]) => {
      // A script touching a key it did not declare gets a plain ERR naming the permission problem.
      await expect(client.call(command, ...args)).rejects.toThrow(
        /^NOPERM |can't access at least one of the keys/,
      );
    });

    it('left the stream and every key outside the namespace untouched', async () => {
      expect(await admin.exists('other-key', 'alertsfoo', 'orders', 'users:1')).toBe(0);
      expect(await admin.type('alerts')).toBe('stream');
      expect(await admin.pttl('alerts')).toBe(-1);
      expect(await admin.pttl('alerts:dlq')).toBe(-1);
    });
  });
});
