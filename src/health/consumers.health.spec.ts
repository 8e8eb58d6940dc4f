import { HealthIndicatorService } from '@nestjs/terminus';
import type { ConsumerState, RedisStreamsStatus } from '@redis-streams-alerts/nestjs-redis-streams';
import { ConsumersHealthIndicator } from './consumers.health.js';

function indicatorWith(consumers: ConsumerState[], shuttingDown = false): ConsumersHealthIndicator {
  const status = { shuttingDown, consumers: () => consumers } as unknown as RedisStreamsStatus;
  return new ConsumersHealthIndicator(new HealthIndicatorService(), status);
}

const running: ConsumerState = {
  stream: 'alerts',
  group: 'webhook',
  consumer: 'alerts-1',
  running: true,
  inFlight: 0,
};

describe('ConsumersHealthIndicator', () => {
  it('is up with the list of consumers when all run', () => {
    expect(indicatorWith([running]).isHealthy('consumers')).toEqual({
      consumers: { status: 'up', consumers: [running] },
    });
  });

  it('is up when there is no consumer', () => {
    expect(indicatorWith([]).isHealthy('consumers').consumers.status).toBe('up');
  });

  it('is down when a consumer stopped', () => {
    const stopped = { ...running, group: 'audit', running: false, lastError: 'boom' };
    const result = indicatorWith([running, stopped]).isHealthy('consumers');
    expect(result.consumers).toMatchObject({
      status: 'down',
      reason: 'not running: alerts/audit',
      consumers: [running, stopped],
    });
  });

  it('is up with an alarm while entries wait for Redis', () => {
    const waiting: ConsumerState = {
      ...running,
      waitingForRedis: {
        entries: 10,
        since: '2026-01-01T00:00:00.000Z',
        failures: 42,
        error: "claim the eventId failed: OOM command not allowed when used memory > 'maxmemory'.",
      },
    };
    const result = indicatorWith([waiting]).isHealthy('consumers');
    expect(result.consumers).toEqual({
      status: 'up',
      consumers: [waiting],
      alarms: [
        'alerts/webhook: 10 entries wait for Redis since 2026-01-01T00:00:00.000Z (42 failed tries, ' +
          "no attempt spent): claim the eventId failed: OOM command not allowed when used memory > 'maxmemory'.",
      ],
    });
  });

  it('is down once shutdown began', () => {
    const result = indicatorWith([running], true).isHealthy('consumers');
    expect(result.consumers).toMatchObject({ status: 'down', reason: 'shutting down' });
  });
});
