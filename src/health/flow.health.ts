import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { GroupFlows, type GroupFlow } from '../flow/group-flows.js';
import { withTimeout } from '../common/waits.js';
import { REDIS_PING_TIMEOUT_MS } from './health.constants.js';

/** `stream/group`, as the consumers detail names a group. */
const nameOf = (flow: GroupFlow): string => `${flow.stream}/${flow.group}`;

/**
 * Which handled groups do not flow, and why: paused by hand, waiting while their destination is
 * busy, or with an open circuit while it is down. Always up: a paused group is an operator's
 * choice, and a busy or broken destination is the same for every instance, so taking this one out
 * of rotation would not help. Never throws, and never waits for Redis longer than the PING does;
 * when Redis does not answer, the `redis` check says so and this one says it could not tell.
 */
@Injectable()
export class FlowHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly groupFlows: GroupFlows,
  ) {}

  async isHealthy<const Key extends string>(key: Key): Promise<HealthIndicatorResult<Key>> {
    const indicator = this.indicators.check(key);
    let flows: GroupFlow[];
    try {
      flows = await withTimeout(this.groupFlows.all(), REDIS_PING_TIMEOUT_MS);
    } catch (error) {
      return indicator.up({ error: `could not read the flow state: ${(error as Error).message}` });
    }
    return indicator.up({
      paused: flows.filter((flow) => flow.paused).map(nameOf),
      busy: Object.fromEntries(
        flows.flatMap((flow) => (flow.busyUntil ? [[nameOf(flow), flow.busyUntil]] : [])),
      ),
      circuitOpen: Object.fromEntries(
        flows.flatMap((flow) =>
          flow.circuit === 'open' ? [[nameOf(flow), flow.nextProbeAt ?? null]] : [],
        ),
      ),
    });
  }
}
