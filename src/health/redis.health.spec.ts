import { HealthIndicatorService } from '@nestjs/terminus';
import type { PingResult, RedisStreamsStatus } from '@redis-streams-alerts/nestjs-redis-streams';
import { REDIS_PING_TIMEOUT_MS } from './health.constants.js';
import { RedisHealthIndicator } from './redis.health.js';

function indicatorWith(result: PingResult): {
  indicator: RedisHealthIndicator;
  timeouts: number[];
} {
  const timeouts: number[] = [];
  const status = {
    ping: async (timeoutMs: number) => {
      timeouts.push(timeoutMs);
      return result;
    },
  } as unknown as RedisStreamsStatus;
  return { indicator: new RedisHealthIndicator(new HealthIndicatorService(), status), timeouts };
}

describe('RedisHealthIndicator', () => {
  it('is up with the latency when Redis answers', async () => {
    const { indicator, timeouts } = indicatorWith({ ok: true, latencyMs: 3 });
    await expect(indicator.isHealthy('redis')).resolves.toEqual({
      redis: { status: 'up', latencyMs: 3 },
    });
    expect(timeouts).toEqual([REDIS_PING_TIMEOUT_MS]);
  });

  it('says what was checked when more than one server answered (Cluster)', async () => {
    const { indicator } = indicatorWith({
      ok: true,
      latencyMs: 4,
      checked: '3 masters, cluster_state ok',
    });
    await expect(indicator.isHealthy('redis')).resolves.toEqual({
      redis: { status: 'up', latencyMs: 4, checked: '3 masters, cluster_state ok' },
    });
  });

  it('is down with the error, without throwing, when Redis does not answer', async () => {
    const { indicator } = indicatorWith({ ok: false, error: 'no answer within 1000 ms' });
    await expect(indicator.isHealthy('redis')).resolves.toEqual({
      redis: { status: 'down', error: 'no answer within 1000 ms' },
    });
  });
});
