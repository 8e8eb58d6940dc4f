import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { DurabilityCheck, StreamRetention } from '@redis-streams-alerts/nestjs-redis-streams';

/**
 * Reports how safely Redis keeps accepted alerts: its persistence, how full it is, streams held
 * over their retention limits by lagging groups, and dead letters piling up. These are alarms for
 * an operator, not reasons to take this instance out of rotation (another instance would see the
 * same Redis), so the check stays up and carries them as details.
 */
@Injectable()
export class StorageHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly durability: DurabilityCheck,
    private readonly retention: StreamRetention,
  ) {}

  isHealthy<const Key extends string>(key: Key): HealthIndicatorResult<Key> {
    const persistence = this.durability.current();
    const memory = this.retention.memory();
    const retention = this.retention.report();
    const alarms = [
      ...(persistence.warning ? [persistence.warning] : []),
      ...(memory?.warning ? [memory.warning] : []),
      ...retention.flatMap((state) => (state.alarm ? [state.alarm] : [])),
    ];
    return this.indicators.check(key).up({ persistence, memory, retention, alarms });
  }
}
