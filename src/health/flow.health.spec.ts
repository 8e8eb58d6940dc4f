import { HealthIndicatorService } from '@nestjs/terminus';
import type { GroupFlow, GroupFlows } from '../flow/group-flows.js';
import { REDIS_PING_TIMEOUT_MS } from './health.constants.js';
import { FlowHealthIndicator } from './flow.health.js';

function indicatorWith(all: () => Promise<GroupFlow[]>): FlowHealthIndicator {
  return new FlowHealthIndicator(new HealthIndicatorService(), { all } as unknown as GroupFlows);
}

const flowing: GroupFlow = {
  stream: 'alerts',
  group: 'alerts-recorder',
  paused: false,
  circuit: 'closed',
  failureStreak: 0,
};

describe('FlowHealthIndicator', () => {
  it('is up with nothing to report while every group flows', async () => {
    const result = await indicatorWith(async () => [flowing]).isHealthy('flow');
    expect(result).toEqual({ flow: { status: 'up', paused: [], busy: {}, circuitOpen: {} } });
  });

  it('stays up while naming the paused, busy and circuit-open groups', async () => {
    const webhook: GroupFlow = {
      stream: 'alerts',
      group: 'alerts-webhook',
      paused: true,
      busyUntil: '2026-01-01T00:00:05.000Z',
      circuit: 'open',
      nextProbeAt: '2026-01-01T00:00:10.000Z',
      failureStreak: 5,
    };
    const result = await indicatorWith(async () => [flowing, webhook]).isHealthy('flow');
    expect(result).toEqual({
      flow: {
        status: 'up',
        paused: ['alerts/alerts-webhook'],
        busy: { 'alerts/alerts-webhook': '2026-01-01T00:00:05.000Z' },
        circuitOpen: { 'alerts/alerts-webhook': '2026-01-01T00:00:10.000Z' },
      },
    });
  });

  it('stays up, saying it could not tell, when Redis fails or does not answer in time', async () => {
    const failed = await indicatorWith(() =>
      Promise.reject(new Error('Connection is closed.')),
    ).isHealthy('flow');
    expect(failed.flow).toEqual({
      status: 'up',
      error: 'could not read the flow state: Connection is closed.',
    });
    const started = Date.now();
    const hung = await indicatorWith(() => new Promise<never>(() => undefined)).isHealthy('flow');
    expect(Date.now() - started).toBeLessThan(REDIS_PING_TIMEOUT_MS + 500);
    expect(hung.flow).toMatchObject({ status: 'up', error: expect.stringContaining('no answer') });
  });
});
