import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { RedisStreamsStatus } from '@redis-streams-alerts/nestjs-redis-streams';
import { REDIS_PING_TIMEOUT_MS } from './health.constants.js';

/**
 * Up when Redis answers PING within `REDIS_PING_TIMEOUT_MS`; never throws. On Cluster every
 * master must answer and the cluster must be ok; `checked` then says what was asked.
 */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly status: RedisStreamsStatus,
  ) {}

  async isHealthy<const Key extends string>(key: Key): Promise<HealthIndicatorResult<Key>> {
    const indicator = this.indicators.check(key);
    const ping = await this.status.ping(REDIS_PING_TIMEOUT_MS);
    if (!ping.ok) return indicator.down({ error: ping.error ?? 'no answer' });
    return indicator.up({
      latencyMs: ping.latencyMs,
      ...(ping.checked ? { checked: ping.checked } : {}),
    });
  }
}
