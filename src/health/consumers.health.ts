import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { RedisStreamsStatus } from '../redis-streams/index.js';

/**
 * Down once shutdown began or when a consumer loop is not running, so traffic moves to other
 * instances; up with the state of every consumer otherwise. Never throws.
 */
@Injectable()
export class ConsumersHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly status: RedisStreamsStatus,
  ) {}

  isHealthy<const Key extends string>(key: Key): HealthIndicatorResult<Key> {
    const indicator = this.indicators.check(key);
    const consumers = this.status.consumers();
    if (this.status.shuttingDown) {
      return indicator.down({ reason: 'shutting down', consumers });
    }
    const stopped = consumers.filter((consumer) => !consumer.running);
    if (stopped.length > 0) {
      const names = stopped.map((consumer) => `${consumer.stream}/${consumer.group}`);
      return indicator.down({ reason: `not running: ${names.join(', ')}`, consumers });
    }
    return indicator.up({ consumers });
  }
}
