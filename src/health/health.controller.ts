import { Controller, Get } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
} from '@nestjs/terminus';
import { ConsumersHealthIndicator } from './consumers.health.js';
import { FlowHealthIndicator } from './flow.health.js';
import { RedisHealthIndicator } from './redis.health.js';
import { StorageHealthIndicator } from './storage.health.js';

/** Probes for orchestrators: liveness restarts a stuck process, readiness routes traffic. */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly redis: RedisHealthIndicator,
    private readonly consumers: ConsumersHealthIndicator,
    private readonly storage: StorageHealthIndicator,
    private readonly flow: FlowHealthIndicator,
  ) {}

  /**
   * 200 while the process serves HTTP. It calls nothing outside the process, and it is not a
   * Terminus check because those answer 503 during shutdown: a failing liveness probe would get
   * the process killed in the middle of its graceful drain.
   */
  @Get('live')
  @HealthCheck()
  live(): HealthCheckResult {
    const details = this.indicators
      .check('process')
      .up({ pid: process.pid, uptimeSeconds: Math.round(process.uptime()) });
    return { status: 'ok', info: details, error: {}, details };
  }

  /**
   * 200 when Redis answers and every consumer runs; 503 with the details otherwise. The `storage`
   * detail carries persistence and retention alarms, and the `flow` detail the paused, busy and
   * circuit-open groups, without failing the probe.
   */
  @Get('ready')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.redis.isHealthy('redis'),
      () => this.consumers.isHealthy('consumers'),
      () => this.storage.isHealthy('storage'),
      () => this.flow.isHealthy('flow'),
    ]);
  }
}
