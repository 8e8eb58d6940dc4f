import type { Redis } from 'ioredis';
import {
  DLQ_FIELD,
  FlowControl,
  StreamInspector,
  StreamPublisher,
  streamKeys,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { runCli, type CliRun } from './support/cli-process.js';
import { appTestbed } from './support/app-testbed.js';
import { freePort } from '@redis-streams-alerts/nestjs-redis-streams/testing';
import { waitFor } from './support/wait-for.js';

const APP_CONSUMER = 'cli-e2e-app';
const CLI_CONSUMER = 'cli-e2e-cli';

interface StreamJson {
  stream: string;
  length: number;
  groups: Array<{
    name: string;
    consumers: Array<{ name: string }>;
    lag: number | null;
    pending: number;
  }>;
  deadLetter: { stream: string; length: number };
}
interface DeadLetterJson {
  id: string;
  eventId: string;
  group: string;
  error: string;
  attempts: number;
}

function record(flat: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]] = flat[i + 1];
  return fields;
}

/** `node dist/cli/main.js` as operators run it: a separate process, configured by environment. */
describe('CLI (node dist/cli/main.js)', () => {
  const bed = appTestbed();
  let client: Redis;
  let env: Record<string, string>;
  /** What the running service's inspector knows: the CLI must know the same. */
  let serviceStreams: string[];
  /** The one entry the service handled before it stopped. */
  let seedId: string;

  const cli = (...args: string[]): Promise<CliRun> => runCli(args, env);
  const json = <T>(run: CliRun): T => {
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    return JSON.parse(run.stdout) as T;
  };

  beforeAll(async () => {
    client = bed.client;
    env = { REDIS_URL: bed.redis.url, CONSUMER_NAME: CLI_CONSUMER };
    // The service creates its consumer groups when it starts; then it stops, so nothing consumes.
    const app = await bed.start({ CONSUMER_NAME: APP_CONSUMER, SHUTDOWN_TIMEOUT_MS: '1000' });
    try {
      serviceStreams = app.app.get(StreamInspector).knownStreams();
      // A consumer shows in a group once it has received an entry: give the service one.
      seedId = (
        await app.app
          .get(StreamPublisher)
          .publish('alerts', { message: 'seed', severity: 'info' }, { eventId: 'cli-e2e-seed' })
      ).id;
      await waitFor(async () => {
        const groups = (await client.xinfo('GROUPS', 'alerts')) as unknown[][];
        return (
          groups.length === 2 &&
          groups.every((g) => {
            const group = record(g.map(String));
            return group['last-delivered-id'] === seedId && group.pending === '0';
          })
        );
      }, 'the service to create its groups and handle one alert');
    } finally {
      await bed.close(app);
    }
  }, 30_000);

  it('prints its usage with --help (exit 0), and with a usage error (exit 2)', async () => {
    const [help, nothing, unknown, badLimit, badOption] = await Promise.all([
      cli('--help'),
      cli(),
      cli('purge'),
      cli('dlq', 'list', '--limit', '0'),
      cli('status', '--bogus'),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: alerts-cli <command>');
    expect(help.stdout).toContain('dlq replay');
    expect(nothing).toMatchObject({ code: 2, stdout: '' });
    expect(nothing.stderr).toContain('Missing command');
    expect(nothing.stderr).toContain('Usage: alerts-cli <command>');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown command "purge"');
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toContain('--limit must be a whole number from 1 to 500');
    expect(badLimit.stderr).toContain('Usage: alerts-cli dlq list');
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain("Unknown option '--bogus'");
  });

  it('shows the streams, groups and consumers of the service, quietly', async () => {
    const [text, asJson, verbose] = await Promise.all([
      cli('status'),
      cli('status', '--json'),
      cli('status', '--json', '--verbose'),
    ]);
    expect(text).toMatchObject({ code: 0, stderr: '' });
    for (const name of ['alerts:dlq', 'alerts-webhook', 'alerts-recorder-dlq', APP_CONSUMER]) {
      expect(text.stdout).toContain(name);
    }
    expect(text.stdout).toMatch(/^STREAM\s+GROUP\s+CONSUMERS\s+LAG\s+PENDING\s+OLDEST PENDING/m);

    // --verbose: the service's logs, on stderr only, so that stdout stays parseable.
    expect(verbose.code).toBe(0);
    expect(verbose.stderr).toContain('CliModule dependencies initialized');
    expect(
      (JSON.parse(verbose.stdout) as { streams: StreamJson[] }).streams.map((s) => s.stream),
    ).toEqual(serviceStreams);

    const { streams } = json<{ streams: StreamJson[] }>(asJson);
    expect(streams.map((s) => s.stream)).toEqual(serviceStreams);
    const alerts = streams.find((s) => s.stream === 'alerts')!;
    expect(alerts.deadLetter).toEqual({ stream: 'alerts:dlq', length: 0 });
    expect(alerts.groups.map((g) => g.name).sort()).toEqual(['alerts-recorder', 'alerts-webhook']);
    for (const group of alerts.groups) {
      expect(group).toMatchObject({ lag: 0, pending: 0, consumers: [{ name: APP_CONSUMER }] });
    }
    const deadLetters = streams.find((s) => s.stream === 'alerts:dlq')!;
    expect(deadLetters.groups).toMatchObject([{ name: 'alerts-recorder-dlq', consumers: [] }]);
  });

  it('publishes an alert checked like POST /alerts, once per eventId, and never consumes it', async () => {
    const first = json<{ id: string; eventId: string }>(
      await cli(
        'publish',
        '--message',
        'Disk full on web-3',
        '--severity',
        'warning',
        '--source',
        'web-3',
        '--label',
        'env=prod',
        '--event-id',
        'cli-e2e-disk-full',
      ),
    );
    expect(first).toEqual({ id: expect.stringMatching(/^\d+-\d+$/), eventId: 'cli-e2e-disk-full' });
    const [[, flat]] = (await client.xrange('alerts', first.id, first.id)) as Array<
      [string, string[]]
    >;
    const fields = record(flat);
    expect(fields.eventId).toBe('cli-e2e-disk-full');
    expect(JSON.parse(fields.payload)).toEqual({
      message: 'Disk full on web-3',
      severity: 'warning',
      source: 'web-3',
      labels: { env: 'prod' },
    });
    // Recorded at once, as POST /alerts does, so GET /alerts/:eventId finds it.
    expect(await client.exists('alerts:record:cli-e2e-disk-full')).toBe(1);

    const length = await client.xlen('alerts');
    const again = await cli('publish', '--message', 'Disk full', '--event-id', 'cli-e2e-disk-full');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual(first);
    expect(again.stderr).toContain('already published');
    expect(await client.xlen('alerts')).toBe(length);

    // Consumers disabled: the entries wait for the service, and the CLI never joined a group.
    for (const group of ['alerts-webhook', 'alerts-recorder']) {
      const consumers = (await client.xinfo('CONSUMERS', 'alerts', group)) as unknown[][];
      expect(consumers.map((c) => record(c.map(String)).name)).toEqual([APP_CONSUMER]);
    }
    const groups = (await client.xinfo('GROUPS', 'alerts')) as unknown[][];
    for (const group of groups) {
      expect(record(group.map(String))).toMatchObject({
        'last-delivered-id': seedId,
        pending: '0',
        lag: String(length - 1),
      });
    }
  });

  it('refuses an invalid alert with every problem, or an unknown stream, and appends nothing', async () => {
    const length = await client.xlen('alerts');
    const [invalid, unknownProperty, unknownStream] = await Promise.all([
      cli('publish', '--message', ' ', '--severity', 'loud', '--label', 'bad key=1'),
      cli('publish', '--json', '{"message":"x","extra":1}'),
      cli('publish', '--stream', 'nope', '--json', '{}'),
    ]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('message must not be blank');
    expect(invalid.stderr).toContain('severity must be one of the following values');
    expect(invalid.stderr).toContain('labels key "bad key"');
    expect(unknownProperty.code).toBe(2);
    expect(unknownProperty.stderr).toContain('property extra should not exist');
    expect(unknownStream.code).toBe(2);
    expect(unknownStream.stderr).toContain(
      'Unknown stream "nope": this service handles alerts, alerts:dlq',
    );
    expect(await client.xlen('alerts')).toBe(length);
  });

  it('pauses and resumes a consumer group for every instance of the service, as status shows', async () => {
    const paused = await cli('groups', 'pause', 'alerts', 'alerts-webhook');
    expect(paused).toMatchObject({ code: 0, stderr: '' });
    expect(paused.stdout).toContain('Paused alerts/alerts-webhook on every instance');
    expect(paused.stdout).toContain('Flow: paused');

    // The service reads the pause from Redis, as every instance does, also one started later.
    const app = await bed.start({ CONSUMER_NAME: APP_CONSUMER, SHUTDOWN_TIMEOUT_MS: '1000' });
    try {
      const state = await app.app.get(FlowControl).state('alerts', 'alerts-webhook');
      expect(state.paused).toBe(true);
    } finally {
      await bed.close(app);
    }

    const [text, asJson] = await Promise.all([cli('status'), cli('status', '--json')]);
    expect(text.stdout).toMatch(/^STREAM\s+GROUP\s+.*\s+FLOW$/m);
    expect(text.stdout).toMatch(/^alerts\s+alerts-webhook\s+.*\s+paused$/m);
    expect(text.stdout).toMatch(/^alerts\s+alerts-recorder\s+.*\s+flowing$/m);
    const alerts = json<{ streams: StreamJson[] }>(asJson).streams.find(
      (s) => s.stream === 'alerts',
    )!;
    expect(alerts.groups.find((g) => g.name === 'alerts-webhook')).toMatchObject({
      flow: { paused: true, circuit: 'closed' },
    });

    const resumed = json<{ paused: boolean }>(
      await cli('groups', 'resume', 'alerts', 'alerts-webhook', '--json'),
    );
    expect(resumed).toEqual({ paused: false, circuit: 'closed', failureStreak: 0 });
  });

  it('refuses to pause a group no handler consumes, or on an unknown stream, and writes nothing', async () => {
    const [group, stream, missing] = await Promise.all([
      cli('groups', 'pause', 'alerts', 'nobody'),
      cli('groups', 'pause', 'secrets', 'alerts-webhook'),
      cli('groups', 'resume', 'alerts'),
    ]);
    expect(group.code).toBe(2);
    expect(group.stderr).toContain(
      'No handler of this service consumes stream "alerts" as group "nobody"; its groups are alerts-recorder, alerts-webhook',
    );
    expect(group.stderr).toContain('alerts-cli groups pause --help');
    expect(stream.code).toBe(2);
    expect(stream.stderr).toContain('Unknown stream "secrets"');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('Give two names, the stream and the group (got 1)');
    expect(missing.stderr).toContain('Usage: alerts-cli groups resume STREAM GROUP');
    expect(
      await client.exists(
        streamKeys.flow('alerts', 'nobody'),
        streamKeys.flow('secrets', 'alerts-webhook'),
      ),
    ).toBe(0);
  });

  describe('dead letters', () => {
    const ids: Record<'first' | 'second' | 'third', string> = { first: '', second: '', third: '' };

    /** A dead letter as the library writes it: the original fields, then the dlq-* ones. */
    const deadLetter = async (eventId: string, error: string): Promise<string> =>
      (await client.xadd(
        'alerts:dlq',
        '*',
        'eventId',
        eventId,
        'payload',
        JSON.stringify({ message: `alert ${eventId}`, severity: 'critical' }),
        DLQ_FIELD.error,
        error,
        DLQ_FIELD.attempts,
        '1',
        DLQ_FIELD.group,
        'alerts-webhook',
        DLQ_FIELD.consumer,
        APP_CONSUMER,
        DLQ_FIELD.originalId,
        '1-0',
        DLQ_FIELD.stream,
        'alerts',
        DLQ_FIELD.failedAt,
        new Date().toISOString(),
      ))!;

    beforeAll(async () => {
      ids.first = await deadLetter('dead-1', 'webhook answered 400 Bad Request');
      ids.second = await deadLetter('dead-2', 'webhook answered 400 Bad Request');
      ids.third = await deadLetter('dead-3', 'Webhook TIMEOUT after 5000 ms');
    });

    it('lists them newest first with their reason, a page at a time', async () => {
      const [page1, text, byError, byGroup] = await Promise.all([
        cli('dlq', 'list', '--limit', '2', '--json'),
        cli('dlq', 'list', '--limit', '2'),
        cli('dlq', 'list', '--error', 'timeout', '--json'),
        cli('dlq', 'list', '--group', 'alerts-recorder', '--json'),
      ]);
      const first = json<{ items: DeadLetterJson[]; next?: string }>(page1);
      expect(first.items.map((l) => l.id)).toEqual([ids.third, ids.second]);
      expect(first.items[0]).toMatchObject({
        eventId: 'dead-3',
        group: 'alerts-webhook',
        error: 'Webhook TIMEOUT after 5000 ms',
        attempts: 1,
      });
      expect(first.next).toBe(ids.second);
      const second = json<{ items: DeadLetterJson[]; next?: string }>(
        await cli('dlq', 'list', '--limit', '2', '--cursor', first.next!, '--json'),
      );
      expect(second).toEqual({ items: [expect.objectContaining({ id: ids.first })] });

      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(/^ID\s+FAILED AT\s+GROUP\s+ATTEMPTS\s+EVENT ID\s+REASON$/m);
      expect(text.stdout).toContain('webhook answered 400 Bad Request');
      expect(text.stdout).toContain(`Next page: --cursor ${ids.second}`);
      expect(json<{ items: DeadLetterJson[] }>(byError).items.map((l) => l.id)).toEqual([
        ids.third,
      ]);
      expect(json<{ items: DeadLetterJson[] }>(byGroup).items).toEqual([]);
    });

    it('replays a dead letter to its stream once, however often it is asked', async () => {
      const length = await client.xlen('alerts');
      const replayed = json<{
        replayed: Array<{ deadLetterId: string; newId: string }>;
        missing: string[];
      }>(await cli('dlq', 'replay', ids.first, '--json'));
      expect(replayed).toEqual({
        replayed: [{ deadLetterId: ids.first, newId: expect.stringMatching(/^\d+-\d+$/) }],
        missing: [],
      });
      const [[, flat]] = (await client.xrange(
        'alerts',
        replayed.replayed[0].newId,
        replayed.replayed[0].newId,
      )) as Array<[string, string[]]>;
      expect(record(flat)).toEqual({
        eventId: 'dead-1',
        payload: JSON.stringify({ message: 'alert dead-1', severity: 'critical' }),
      });

      const again = await cli('dlq', 'replay', ids.first);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('Replayed 0 dead letter(s)');
      expect(again.stdout).toContain(`Missing 1`);
      expect(again.stdout).toContain(ids.first);
      expect(await client.xlen('alerts')).toBe(length + 1);

      const byError = await cli('dlq', 'replay', '--error', 'timeout');
      expect(byError.code).toBe(0);
      expect(byError.stdout).toContain(`Replayed 1 dead letter(s) from alerts:dlq to alerts.`);
      expect(byError.stdout).toContain(`${ids.third} -> `);
      expect(await client.xlen('alerts')).toBe(length + 2);
      expect((await client.xrange('alerts:dlq', '-', '+')).map(([id]) => id)).toEqual([ids.second]);
    });

    it('deletes dead letters for good', async () => {
      const deleted = json<{ deleted: number; requested: number }>(
        await cli('dlq', 'delete', ids.second, '99-9', '--json'),
      );
      expect(deleted).toEqual({ deleted: 1, requested: 2 });
      expect(await client.xlen('alerts:dlq')).toBe(0);
    });
  });

  it('fails within seconds, with the reason and without the password, when Redis is unreachable', async () => {
    const port = await freePort();
    const down = { REDIS_URL: `redis://:s3cret-pass@127.0.0.1:${port}` };
    const [status, list] = await Promise.all([
      runCli(['status'], down),
      runCli(['dlq', 'list'], down),
    ]);
    for (const run of [status, list]) {
      expect(run.code).toBe(1);
      expect(run.ms).toBeLessThan(10_000);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(
        new RegExp(`^error: Cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}`),
      );
      expect(run.stderr).toContain('ECONNREFUSED');
      expect(run.stderr).not.toContain('s3cret-pass');
    }
  });

  it('refuses an invalid environment as the service does, listing every problem', async () => {
    const run = await runCli(['status'], { REDIS_URL: 'http://x', PORT: 'abc' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Invalid configuration: 2 environment variable(s)');
    expect(run.stderr).toContain('REDIS_URL');
    expect(run.stderr).toContain('PORT');
  });
});
