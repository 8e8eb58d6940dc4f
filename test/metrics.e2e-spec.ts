import request from 'supertest';
import { appTestbed } from './support/app-testbed.js';
import type { RunningApp } from './support/test-app.js';
import { sleep, waitFor } from './support/wait-for.js';

const API_KEY = 'metrics-test-key-0123456789';
/** Markers in the message tell the receiver how to answer. */
const REJECTED = '[400]';
const FLAKY = '[500 once]';
const WEBHOOK = { stream: 'alerts', group: 'alerts-webhook' };
const RECORDER = { stream: 'alerts', group: 'alerts-recorder' };
const DLQ_RECORDER = { stream: 'alerts:dlq', group: 'alerts-recorder-dlq' };
/** What a scrape may take at most while Redis is away: the read timeout (1 s) and some slack. */
const SCRAPE_BOUND_MS = 2_000;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition. */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key] = value;
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the sample with exactly these labels; undefined when there is none. */
function valueOf(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const wanted = Object.entries(labels);
  return samples.find(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === wanted.length &&
      wanted.every(([key, value]) => s.labels[key] === value),
  )?.value;
}

describe('GET /metrics', () => {
  const bed = appTestbed({
    webhook: (body, attempt) => {
      const message = String(body.message ?? '');
      if (message.includes(REJECTED)) return 400;
      if (message.includes(FLAKY)) return attempt === 1 ? 500 : 200;
      return 200;
    },
  });
  let app: RunningApp;

  beforeAll(async () => {
    app = await bed.start({
      CONSUMER_NAME: 'metrics-1',
      API_KEY,
      RETRY_BACKOFF_BASE_MS: '50',
      RETRY_BACKOFF_MAX_MS: '200',
    });
  });

  async function scrape(url = app.url): Promise<Sample[]> {
    const response = await request(url).get('/metrics').expect(200);
    return parse(response.text);
  }

  async function postAlert(message: string): Promise<string> {
    const response = await request(app.url)
      .post('/alerts')
      .set('x-api-key', API_KEY)
      .send({ message })
      .expect(202);
    return (response.body as { eventId: string }).eventId;
  }

  it('is open without the API key, in the Prometheus text format, with process metrics', async () => {
    await request(app.url).get('/alerts').expect(401);
    const response = await request(app.url).get('/metrics').expect(200);
    expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(response.text).toContain('# TYPE redis_streams_delivered_total counter');
    expect(response.text).toContain('# TYPE redis_streams_handler_duration_seconds histogram');
    expect(response.text).toContain('# TYPE redis_streams_group_lag gauge');
    expect(response.text).toContain('# TYPE alerts_process_cpu_seconds_total counter');
    expect(response.text).toContain('alerts_nodejs_eventloop_lag_seconds');
    const samples = parse(response.text);
    // Every handler's series exist at zero before any traffic.
    expect(valueOf(samples, 'redis_streams_delivered_total', WEBHOOK)).toBe(0);
    expect(valueOf(samples, 'redis_streams_dead_lettered_total', DLQ_RECORDER)).toBe(0);
    expect(valueOf(samples, 'redis_streams_redis_up')).toBe(1);
  });

  it('counts published, delivered, failed, retried and dead-lettered entries exactly', async () => {
    const ok = [await postAlert('first'), await postAlert('second')];
    const flaky = await postAlert(`retried ${FLAKY}`);
    const rejected = await postAlert(`rejected ${REJECTED}`);
    await waitFor(
      () =>
        [...ok, flaky].every((key) =>
          bed.receiver.deliveries.some((d) => d.headers['idempotency-key'] === key),
        ),
      'the deliveries',
    );
    expect(bed.receiver.attempts(flaky)).toBe(2);
    expect(bed.receiver.attempts(rejected)).toBe(1);
    // The counters move once the acknowledgements are written; the dead letter has its own handler.
    const samples = await waitFor(async () => {
      const s = await scrape();
      return valueOf(s, 'redis_streams_delivered_total', WEBHOOK) === 3 &&
        valueOf(s, 'redis_streams_delivered_total', RECORDER) === 4 &&
        valueOf(s, 'redis_streams_delivered_total', DLQ_RECORDER) === 1
        ? s
        : undefined;
    }, 'the delivered counters');

    const expected: Array<[string, Record<string, string>, number]> = [
      ['redis_streams_published_total', { stream: 'alerts' }, 4],
      ['redis_streams_publish_duplicates_total', { stream: 'alerts' }, 0],
      ['redis_streams_failed_attempts_total', WEBHOOK, 2],
      ['redis_streams_retries_total', WEBHOOK, 1],
      ['redis_streams_dead_lettered_total', WEBHOOK, 1],
      ['redis_streams_reclaimed_total', WEBHOOK, 0],
      ['redis_streams_failed_attempts_total', RECORDER, 0],
      ['redis_streams_retries_total', RECORDER, 0],
      ['redis_streams_dead_lettered_total', RECORDER, 0],
      ['redis_streams_failed_attempts_total', DLQ_RECORDER, 0],
      ['redis_streams_handler_duration_seconds_count', WEBHOOK, 3],
      ['redis_streams_handler_duration_seconds_count', RECORDER, 4],
      ['redis_streams_handler_duration_seconds_count', DLQ_RECORDER, 1],
      ['redis_streams_end_to_end_latency_seconds_count', WEBHOOK, 3],
      ['redis_streams_end_to_end_latency_seconds_count', RECORDER, 4],
      ['redis_streams_end_to_end_latency_seconds_count', DLQ_RECORDER, 1],
      ['redis_streams_handler_duration_seconds_bucket', { le: '+Inf', ...WEBHOOK }, 3],
    ];
    for (const [name, labels, value] of expected) {
      expect([name, labels, valueOf(samples, name, labels)]).toEqual([name, labels, value]);
    }
    // The retried entry waited for its backoff: end to end takes longer than the handler alone.
    const duration = valueOf(samples, 'redis_streams_handler_duration_seconds_sum', WEBHOOK)!;
    const latency = valueOf(samples, 'redis_streams_end_to_end_latency_seconds_sum', WEBHOOK)!;
    expect(duration).toBeGreaterThan(0);
    expect(latency).toBeGreaterThan(duration);
    expect(latency).toBeLessThan(30);
  });

  it('reads stream length, lag, pending, oldest pending age, dead letters and consumers from Redis', async () => {
    // A group of another service: two consumers read three of the four entries and acknowledged
    // none. (Redis adds a consumer to a group when it first gets an entry, not while it waits.)
    await bed.client.xgroup('CREATE', 'alerts', 'observer', '0');
    const readAs = (consumer: string, count: number) =>
      bed.client.xreadgroup(
        'GROUP',
        'observer',
        consumer,
        'COUNT',
        count,
        'STREAMS',
        'alerts',
        '>',
      );
    await readAs('observer-1', 2);
    await readAs('observer-2', 1);
    const observer = { stream: 'alerts', group: 'observer' };

    const samples = await scrape();
    const expected: Array<[string, Record<string, string>, number]> = [
      ['redis_streams_redis_up', {}, 1],
      ['redis_streams_stream_length', { stream: 'alerts' }, 4],
      ['redis_streams_stream_length', { stream: 'alerts:dlq' }, 1],
      ['redis_streams_dead_letter_length', { stream: 'alerts' }, 1],
      ['redis_streams_dead_letter_length', { stream: 'alerts:dlq' }, 0],
      ['redis_streams_group_lag', WEBHOOK, 0],
      ['redis_streams_group_lag', RECORDER, 0],
      ['redis_streams_group_lag', DLQ_RECORDER, 0],
      ['redis_streams_group_lag', observer, 1],
      ['redis_streams_group_pending', WEBHOOK, 0],
      ['redis_streams_group_pending', observer, 3],
      ['redis_streams_group_oldest_pending_age_seconds', WEBHOOK, 0],
      ['redis_streams_group_consumers', WEBHOOK, 1],
      ['redis_streams_group_consumers', RECORDER, 1],
      ['redis_streams_group_consumers', DLQ_RECORDER, 1],
      ['redis_streams_group_consumers', observer, 2],
    ];
    for (const [name, labels, value] of expected) {
      expect([name, labels, valueOf(samples, name, labels)]).toEqual([name, labels, value]);
    }
    const age = valueOf(samples, 'redis_streams_group_oldest_pending_age_seconds', observer)!;
    expect(age).toBeGreaterThan(0);
    expect(age).toBeLessThan(60);
  });

  it('reports each handled group paused, busy or with an open circuit, and follows a pause', async () => {
    const flowGauges = ['paused', 'busy', 'circuit_open'].map(
      (name) => `redis_streams_group_${name}`,
    );
    const gauges = (samples: Sample[], labels: Record<string, string>) =>
      flowGauges.map((name) => valueOf(samples, name, labels));
    let samples = await scrape();
    for (const group of [WEBHOOK, RECORDER, DLQ_RECORDER]) {
      expect(gauges(samples, group)).toEqual([0, 0, 0]);
    }
    // Only groups that a handler of this service consumes can be paused from here.
    expect(gauges(samples, { stream: 'alerts', group: 'observer' })).toEqual([
      undefined,
      undefined,
      undefined,
    ]);

    const flowPath = '/admin/streams/alerts/groups/alerts-webhook';
    await request(app.url).post(`${flowPath}/pause`).set('x-api-key', API_KEY).expect(200);
    samples = await scrape();
    expect(gauges(samples, WEBHOOK)).toEqual([1, 0, 0]);
    expect(gauges(samples, RECORDER)).toEqual([0, 0, 0]);
    await request(app.url).post(`${flowPath}/resume`).set('x-api-key', API_KEY).expect(200);
    expect(gauges(await scrape(), WEBHOOK)).toEqual([0, 0, 0]);
  });

  it('keeps the metrics of two applications in one process apart', async () => {
    // Started as the first one is, and so resolved once it is ready.
    const second = await bed.start({ CONSUMER_NAME: 'metrics-2' });
    const own = await scrape(second.url);
    expect(valueOf(own, 'redis_streams_redis_up')).toBe(1);
    expect(valueOf(own, 'redis_streams_delivered_total', WEBHOOK)).toBe(0);
    expect(valueOf(own, 'redis_streams_published_total', { stream: 'alerts' })).toBeUndefined();
    // The gauges come from Redis, which both see alike.
    expect(valueOf(own, 'redis_streams_stream_length', { stream: 'alerts' })).toBe(4);
    const first = await scrape();
    expect(valueOf(first, 'redis_streams_delivered_total', WEBHOOK)).toBe(3);
    expect(valueOf(first, 'redis_streams_published_total', { stream: 'alerts' })).toBe(4);
  });

  it('answers within the bound while Redis hangs, with redis_up 0 and the counters', async () => {
    const sleeper = bed.connect();
    // DEBUG SLEEP freezes the whole server: every command waits, none fails.
    const frozen = sleeper.call('DEBUG', 'SLEEP', '2.5').catch(() => undefined);
    await sleep(100);
    try {
      const started = Date.now();
      const samples = await scrape();
      expect(Date.now() - started).toBeLessThan(SCRAPE_BOUND_MS);
      expect(valueOf(samples, 'redis_streams_redis_up')).toBe(0);
      expect(valueOf(samples, 'redis_streams_stream_length', { stream: 'alerts' })).toBeUndefined();
      expect(valueOf(samples, 'redis_streams_group_pending', WEBHOOK)).toBeUndefined();
      expect(valueOf(samples, 'redis_streams_delivered_total', WEBHOOK)).toBe(3);
    } finally {
      await frozen;
    }
    await waitFor(
      async () => valueOf(await scrape(), 'redis_streams_redis_up') === 1,
      'redis_up 1 once Redis answers again',
    );
  });

  it('answers at once with Redis killed, the process stays live, and recovers with Redis', async () => {
    await bed.redis.kill();
    try {
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        const samples = await scrape();
        expect(Date.now() - started).toBeLessThan(SCRAPE_BOUND_MS);
        expect(valueOf(samples, 'redis_streams_redis_up')).toBe(0);
        expect(valueOf(samples, 'redis_streams_published_total', { stream: 'alerts' })).toBe(4);
      }
      await request(app.url).get('/health/live').expect(200);
    } finally {
      await bed.redis.restart();
    }
    await waitFor(
      async () => valueOf(await scrape(), 'redis_streams_redis_up') === 1,
      'redis_up 1 after the restart',
    );
    const samples = await scrape();
    expect(valueOf(samples, 'redis_streams_stream_length', { stream: 'alerts' })).toBe(4);
  });
});
