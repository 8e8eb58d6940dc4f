import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { RedisStreamsStatus } from '@redis-streams-alerts/nestjs-redis-streams';

/**
 * Down once shutdown began or when a consumer loop is not running, so traffic moves to other
 * instances; up with the state of every consumer otherwise. Never throws.
 *
 * Entries waiting for Redis (it fails the calls made for them: full, read-only, unreachable) show
 * as `alarms`, without failing the probe: every instance sees the same Redis, so taking this one
 * out of rotation would not help, and the entries resume by themselves once Redis serves again.
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
    const alarms = consumers.flatMap(({ stream, group, waitingForRedis: waiting }) =>
      waiting
        ? [
            `${stream}/${group}: ${waiting.entries} entries wait for Redis since ${waiting.since} ` +
              `(${waiting.failures} failed tries, no attempt spent): ${waiting.error}`,
          ]
        : [],
    );
    return indicator.up(alarms.length > 0 ? { consumers, alarms } : { consumers });
  }
}
