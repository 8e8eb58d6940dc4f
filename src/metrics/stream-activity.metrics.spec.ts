import { Registry } from 'prom-client';
import { StreamEvents, type RedisStreamsStatus } from '@redis-streams-alerts/nestjs-redis-streams';
import { StreamActivityMetrics } from './stream-activity.metrics.js';

describe('StreamActivityMetrics', () => {
  let registry: Registry;
  let events: StreamEvents;
  let metrics: StreamActivityMetrics;
  const status = {
    handlers: () => [{ stream: 'orders', group: 'billing' }],
  } as unknown as RedisStreamsStatus;

  beforeEach(() => {
    registry = new Registry();
    events = new StreamEvents();
    metrics = new StreamActivityMetrics(registry, events, status);
    metrics.onModuleInit();
  });

  afterEach(() => metrics.onApplicationShutdown());

  /** The value of a counter's label set. */
  async function value(name: string, labels: Record<string, string>): Promise<number | undefined> {
    const metric = await registry.getSingleMetric(name)!.get();
    const found = metric.values.find((v) =>
      Object.entries(labels).every(([key, wanted]) => v.labels[key] === wanted),
    );
    return found?.value;
  }

  it('shows every handler at zero before anything happened', async () => {
    const billing = { stream: 'orders', group: 'billing' };
    for (const name of [
      'redis_streams_delivered_total',
      'redis_streams_failed_attempts_total',
      'redis_streams_retries_total',
      'redis_streams_reclaimed_total',
      'redis_streams_dead_lettered_total',
      'redis_streams_infrastructure_failures_total',
    ]) {
      expect(await value(name, billing)).toBe(0);
    }
    expect(await registry.metrics()).toContain(
      'redis_streams_handler_duration_seconds_count{stream="orders",group="billing"} 0',
    );
  });

  it('counts each event and observes durations in seconds', async () => {
    const billing = { stream: 'orders', group: 'billing' };
    const entry = { ...billing, id: '1-0', eventId: 'e1' };
    events.emit('published', { stream: 'orders', count: 3, duplicates: 1 });
    events.emit('handled', { ...entry, attempt: 1, durationMs: 20, latencyMs: 1_500 });
    events.emit('handled', { ...entry, attempt: 1, durationMs: 40, latencyMs: 2_500 });
    events.emit('failed', { ...entry, attempt: 1, retrying: true, reason: 'boom' });
    events.emit('retried', { ...billing, count: 2 });
    events.emit('reclaimed', { stream: 'orders', group: 'audit', count: 4 });
    events.emit('failed', { ...entry, attempt: 5, retrying: false, reason: 'boom' });
    events.emit('deadLettered', { ...entry, attempt: 5, reason: 'boom' });
    events.emit('infrastructureFailed', billing);
    events.emit('infrastructureFailed', billing);

    expect(await value('redis_streams_published_total', { stream: 'orders' })).toBe(3);
    expect(await value('redis_streams_publish_duplicates_total', { stream: 'orders' })).toBe(1);
    expect(await value('redis_streams_delivered_total', billing)).toBe(2);
    expect(await value('redis_streams_failed_attempts_total', billing)).toBe(2);
    expect(await value('redis_streams_retries_total', billing)).toBe(2);
    expect(await value('redis_streams_dead_lettered_total', billing)).toBe(1);
    expect(await value('redis_streams_infrastructure_failures_total', billing)).toBe(2);
    const audit = { stream: 'orders', group: 'audit' };
    expect(await value('redis_streams_reclaimed_total', audit)).toBe(4);
    expect(await value('redis_streams_delivered_total', audit)).toBe(0);

    const text = await registry.metrics();
    expect(text).toContain(
      'redis_streams_handler_duration_seconds_count{stream="orders",group="billing"} 2',
    );
    expect(text).toMatch(
      /redis_streams_handler_duration_seconds_sum\{stream="orders",group="billing"\} 0\.06/,
    );
    expect(text).toContain(
      'redis_streams_end_to_end_latency_seconds_bucket{le="2.5",stream="orders",group="billing"} 2',
    );
    expect(text).toContain(
      'redis_streams_end_to_end_latency_seconds_bucket{le="1",stream="orders",group="billing"} 0',
    );
  });

  it('stops counting once the application shuts down', async () => {
    metrics.onApplicationShutdown();
    events.emit('published', { stream: 'orders', count: 1, duplicates: 0 });
    expect(await value('redis_streams_published_total', { stream: 'orders' })).toBeUndefined();
  });
});
