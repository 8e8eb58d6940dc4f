import type { Redis } from 'ioredis';
import { StreamRetention, type RetentionState } from '@redis-streams-alerts/nestjs-redis-streams';
import { appTestbed } from './support/app-testbed.js';
import type { RunningApp } from './support/test-app.js';
import { waitFor } from './support/wait-for.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** An alert that fails validation: dead-lettered at once, without a webhook call. */
const INVALID = ['message', 'fails validation', 'severity', 'apocalyptic'];
const VALID = ['message', 'disk full', 'severity', 'critical'];

interface StorageDetail {
  alarms: string[];
  retention: RetentionState[];
  memory?: { usedBytes: number; maxBytes: number; policy: string; warning?: string };
}

async function storage(app: RunningApp): Promise<StorageDetail> {
  const response = await fetch(`${app.url}/health/ready`, { signal: AbortSignal.timeout(5_000) });
  const body = (await response.json()) as { details: { storage: StorageDetail } };
  return body.details.storage;
}

/** Resolves once every rule has run at least `runs` more times (by the rules' own timer). */
async function retentionRuns(app: RunningApp, runs: number, intervalMs: number): Promise<void> {
  const since = Date.now();
  const retention = app.app.get(StreamRetention);
  await waitFor(
    () =>
      retention.report().length > 0 &&
      retention.report().every((state) => Date.parse(state.checkedAt) >= since + runs * intervalMs),
    `${runs} more retention runs`,
    20_000,
  );
}

async function settled(client: Redis, stream: string, group: string): Promise<boolean> {
  const groups = (await client.xinfo('GROUPS', stream)) as unknown[][];
  const info = groups.map((flat) => Object.fromEntries(chunk(flat))).find((g) => g.name === group);
  return info !== undefined && Number(info.pending) === 0 && Number(info.lag) === 0;
}

function chunk(flat: unknown[]): Array<[string, unknown]> {
  const pairs: Array<[string, unknown]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([String(flat[i]), flat[i + 1]]);
  return pairs;
}

/** The service's retention settings, end to end: dead letters, defaults and the storage alarms. */
describe('alerts retention', () => {
  const bed = appTestbed();
  let app: RunningApp | undefined;

  afterEach(async () => {
    app = undefined;
    await bed.client.config('SET', 'maxmemory', '0');
    await bed.client.config('SET', 'maxmemory-policy', 'noeviction');
  });

  describe.each([
    { partitions: 0, streams: ['alerts'] },
    { partitions: 2, streams: ['alerts:{0}', 'alerts:{1}'] },
  ])('with ALERTS_PARTITIONS=$partitions', ({ partitions, streams }) => {
    it('keeps every dead letter, whatever RETENTION_MAX_LEN, and raises the alarm when they are many', async () => {
      const cap = 5;
      const perStream = 15;
      app = await bed.start({
        CONSUMER_NAME: `dlq-kept-${partitions}`,
        ALERTS_PARTITIONS: String(partitions),
        RETENTION_MAX_LEN: String(cap),
        RETENTION_INTERVAL_MS: '100',
        DEAD_LETTER_ALARM_COUNT: String(perStream),
      });
      for (const stream of streams) {
        for (let i = 0; i < perStream; i++) await bed.client.xadd(stream, '*', ...INVALID);
      }
      const deadLetterStreams = streams.map((stream) => `${stream}:dlq`);
      // Every alert was handled (dead-lettered), every dead letter recorded and acknowledged.
      await waitFor(
        async () => {
          for (const stream of streams) {
            if (!(await settled(bed.client, stream, 'alerts-webhook'))) return false;
          }
          for (const stream of deadLetterStreams) {
            if (!(await settled(bed.client, stream, 'alerts-recorder-dlq'))) return false;
          }
          return true;
        },
        'every invalid alert dead-lettered and recorded',
        20_000,
      );
      // The recorder acknowledged them all: only the rule for dead letters keeps them now.
      await retentionRuns(app, 5, 100);

      for (const stream of deadLetterStreams) expect(await bed.client.xlen(stream)).toBe(perStream);
      for (const stream of streams) expect(await bed.client.xlen(stream)).toBe(cap);
      const { alarms, retention } = await storage(app);
      for (const stream of deadLetterStreams) {
        expect(retention.find((state) => state.stream === stream)).toMatchObject({
          length: perStream,
          trimmed: 0,
        });
        expect(alarms).toContainEqual(
          expect.stringMatching(new RegExp(`^${escape(stream)} holds ${perStream} dead letters`)),
        );
      }
    }, 60_000);
  });

  it('drops dead letters older than DEAD_LETTER_MAX_AGE_MS, and only those', async () => {
    const old = Date.now() - 2 * HOUR_MS;
    const oldIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      oldIds.push(
        (await bed.client.xadd('alerts:dlq', `${old + i}-0`, ...VALID, 'dlq-error', 'x'))!,
      );
    }
    const newIds: string[] = [];
    for (let i = 0; i < 2; i++) {
      newIds.push((await bed.client.xadd('alerts:dlq', '*', ...VALID, 'dlq-error', 'x'))!);
    }
    app = await bed.start({
      CONSUMER_NAME: 'dlq-age',
      RETENTION_INTERVAL_MS: '100',
      DEAD_LETTER_MAX_AGE_MS: String(HOUR_MS),
    });
    await waitFor(
      async () => (await bed.client.xlen('alerts:dlq')) === 2,
      'the old dead letters to be dropped',
    );
    await retentionRuns(app, 3, 100);
    expect((await bed.client.xrange('alerts:dlq', '-', '+')).map(([id]) => id)).toEqual(newIds);
  }, 30_000);

  it('bounds a fresh install: by default, alerts older than 7 days go once every group has them', async () => {
    const old = Date.now() - 8 * DAY_MS;
    const oldIds: string[] = [];
    for (let i = 0; i < 3; i++)
      oldIds.push((await bed.client.xadd('alerts', `${old + i}-0`, ...VALID))!);
    const newIds: string[] = [];
    for (let i = 0; i < 2; i++) newIds.push((await bed.client.xadd('alerts', '*', ...VALID))!);
    // Only the interval is shortened; the limits are the defaults.
    app = await bed.start({
      CONSUMER_NAME: 'defaults',
      RETENTION_INTERVAL_MS: '100',
    });
    await waitFor(
      async () => (await bed.client.xlen('alerts')) === 2,
      'the alerts older than 7 days to be trimmed',
      20_000,
    );
    expect((await bed.client.xrange('alerts', '-', '+')).map(([id]) => id)).toEqual(newIds);
    // They were handled by both groups before they went.
    expect(await settled(bed.client, 'alerts', 'alerts-webhook')).toBe(true);
    expect(await settled(bed.client, 'alerts', 'alerts-recorder')).toBe(true);
    const { retention } = await storage(app);
    expect(retention.find((state) => state.stream === 'alerts')).toMatchObject({
      maxLen: 1_000_000,
      maxAgeMs: 7 * DAY_MS,
      overCap: false,
    });
  }, 40_000);

  it('warns when Redis nears maxmemory, or may evict streams', async () => {
    app = await bed.start({
      CONSUMER_NAME: 'memory',
      RETENTION_INTERVAL_MS: '100',
    });
    const memoryWarning = async (): Promise<string | undefined> =>
      (await storage(app!)).memory?.warning;
    const memory = await waitFor(async () => (await storage(app!)).memory, 'a memory reading');
    expect(memory).toMatchObject({ maxBytes: 0, policy: 'noeviction' });
    expect(memory.warning).toBeUndefined();

    const used = Number(/^used_memory:(\d+)/m.exec(await bed.client.info('memory'))?.[1]);
    await bed.client.config('SET', 'maxmemory', String(Math.round(used / 0.87)));
    const nearFull = await waitFor(
      async () => (await storage(app!)).alarms.find((a) => a.includes('of its maxmemory')),
      'the near-maxmemory alarm',
    );
    expect(nearFull).toMatch(/^Redis uses [\d.]+ MiB of its maxmemory [\d.]+ MiB \(\d+ %\)/);

    await bed.client.config('SET', 'maxmemory', String(used * 100));
    await bed.client.config('SET', 'maxmemory-policy', 'allkeys-lru');
    await waitFor(
      async () =>
        (await memoryWarning()) ===
        'maxmemory-policy allkeys-lru may evict whole streams when Redis is full: set noeviction',
      'the eviction alarm',
    );

    await bed.client.config('SET', 'maxmemory-policy', 'noeviction');
    await waitFor(async () => (await memoryWarning()) === undefined, 'the alarm to clear');
  }, 30_000);
});

function escape(text: string): string {
  return text.replace(/[{}]/g, '\\$&');
}
