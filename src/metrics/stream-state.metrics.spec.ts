import { Logger } from '@nestjs/common';
import { Registry } from 'prom-client';
import type { GroupFlow, GroupFlows } from '../flow/group-flows.js';
import type { StreamInfo, StreamInspector } from '@redis-streams-alerts/nestjs-redis-streams';
import { REDIS_READ_TIMEOUT_MS } from './metrics.constants.js';
import { StreamStateMetrics } from './stream-state.metrics.js';

const ORDERS: StreamInfo = {
  stream: 'orders',
  length: 12,
  firstId: '1-0',
  lastId: '12-0',
  deadLetter: { stream: 'orders:dlq', length: 2 },
  groups: [
    {
      name: 'billing',
      consumers: [
        { name: 'a', pending: 3, idleMs: 10 },
        { name: 'b', pending: 0, idleMs: 5 },
      ],
      pending: 3,
      lag: 4,
      lastDeliveredId: '8-0',
      oldestPendingAgeMs: 2_500,
    },
    {
      name: 'audit',
      consumers: [],
      pending: 0,
      lag: null,
      lastDeliveredId: '12-0',
      oldestPendingAgeMs: null,
    },
  ],
};

/** An inspector whose next answer the test decides. */
class FakeInspector {
  reads = 0;
  answer: () => Promise<StreamInfo[]> = () => Promise.resolve([ORDERS]);
  streams(): Promise<StreamInfo[]> {
    this.reads += 1;
    return this.answer();
  }
}

const BILLING_FLOW: GroupFlow = {
  stream: 'orders',
  group: 'billing',
  paused: true,
  busyUntil: '2026-01-01T00:00:05.000Z',
  circuit: 'open',
  nextProbeAt: '2026-01-01T00:00:10.000Z',
  failureStreak: 5,
};
const AUDIT_FLOW: GroupFlow = {
  stream: 'orders',
  group: 'audit',
  paused: false,
  circuit: 'closed',
  failureStreak: 0,
};

describe('StreamStateMetrics', () => {
  let registry: Registry;
  let inspector: FakeInspector;
  let flows: GroupFlow[];

  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(() => {
    registry = new Registry();
    inspector = new FakeInspector();
    flows = [BILLING_FLOW, AUDIT_FLOW];
    const groupFlows = { all: () => Promise.resolve(flows) } as unknown as GroupFlows;
    new StreamStateMetrics(registry, inspector as unknown as StreamInspector, groupFlows);
  });

  it('reads Redis once per scrape and sets every gauge from it', async () => {
    const text = await registry.metrics();
    expect(inspector.reads).toBe(1);
    expect(text).toContain('redis_streams_redis_up 1');
    expect(text).toContain('redis_streams_stream_length{stream="orders"} 12');
    expect(text).toContain('redis_streams_dead_letter_length{stream="orders"} 2');
    expect(text).toContain('redis_streams_group_lag{stream="orders",group="billing"} 4');
    expect(text).toContain('redis_streams_group_pending{stream="orders",group="billing"} 3');
    expect(text).toContain(
      'redis_streams_group_oldest_pending_age_seconds{stream="orders",group="billing"} 2.5',
    );
    expect(text).toContain('redis_streams_group_consumers{stream="orders",group="billing"} 2');
    expect(text).toContain(
      'redis_streams_group_oldest_pending_age_seconds{stream="orders",group="audit"} 0',
    );
    // Redis could not tell the lag: no value rather than a wrong one.
    expect(text).not.toContain('redis_streams_group_lag{stream="orders",group="audit"}');

    await registry.metrics();
    expect(inspector.reads).toBe(2);
  });

  it('sets the paused, busy and circuit gauges of each handled group from its flow state', async () => {
    let text = await registry.metrics();
    for (const name of ['paused', 'busy', 'circuit_open']) {
      expect(text).toContain(`redis_streams_group_${name}{stream="orders",group="billing"} 1`);
      expect(text).toContain(`redis_streams_group_${name}{stream="orders",group="audit"} 0`);
    }
    flows = [{ ...BILLING_FLOW, paused: false, busyUntil: undefined, circuit: 'closed' }];
    text = await registry.metrics();
    for (const name of ['paused', 'busy', 'circuit_open']) {
      expect(text).toContain(`redis_streams_group_${name}{stream="orders",group="billing"} 0`);
      // A group no longer handled loses its series.
      expect(text).not.toContain(`redis_streams_group_${name}{stream="orders",group="audit"}`);
    }
  });

  it('answers within the timeout when Redis hangs, without the stream gauges', async () => {
    await registry.metrics();
    inspector.answer = () => new Promise<never>(() => undefined);
    const started = Date.now();
    const text = await registry.metrics();
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(REDIS_READ_TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(REDIS_READ_TIMEOUT_MS + 500);
    expect(text).toContain('redis_streams_redis_up 0');
    expect(text).not.toContain('redis_streams_stream_length{');
    expect(text).not.toContain('redis_streams_group_pending{');
    expect(text).not.toContain('redis_streams_group_paused{');

    // The next scrape waits for the same hung read instead of starting another one.
    await registry.metrics();
    expect(inspector.reads).toBe(2);
  });

  it('reports Redis down at once when the read fails, and up again once it answers', async () => {
    inspector.answer = () => Promise.reject(new Error('Connection is closed.'));
    expect(await registry.metrics()).toContain('redis_streams_redis_up 0');
    inspector.answer = () => Promise.resolve([ORDERS]);
    const text = await registry.metrics();
    expect(text).toContain('redis_streams_redis_up 1');
    expect(text).toContain('redis_streams_stream_length{stream="orders"} 12');
  });

  it('drops the series of a stream or group that is gone', async () => {
    await registry.metrics();
    inspector.answer = () => Promise.resolve([{ ...ORDERS, groups: [ORDERS.groups[1]] }]);
    flows = [AUDIT_FLOW];
    const text = await registry.metrics();
    expect(text).not.toContain('group="billing"');
    expect(text).toContain('redis_streams_group_consumers{stream="orders",group="audit"} 0');
  });
});
