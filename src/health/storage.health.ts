import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { DurabilityCheck, StreamRetention } from '../redis-streams/index.js';

/**
 * Reports how safely Redis keeps accepted alerts: its persistence and streams held over their
 * retention cap by lagging groups. Both are alarms for an operator, not reasons to take this
 * instance out of rotation (another instance would see the same Redis), so the check stays up
 * and carries them as details.
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
    const retention = this.retention.report();
    const alarms = [
      ...(persistence.warning ? [persistence.warning] : []),
      ...retention
        .filter((state) => state.overCap)
        .map(
          (state) =>
            `${state.stream} holds ${state.length} entries over its cap of ${state.maxLen}: held by ${state.heldBy.join(', ')}`,
        ),
    ];
    return this.indicators.check(key).up({ persistence, retention, alarms });
  }
}
