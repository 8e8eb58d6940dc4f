import { Controller, Get, Inject } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
  type HealthIndicatorFunction,
} from '@nestjs/terminus';
import { appConfig, type AppConfig } from '../config/app.config.js';
import type { ProcessRole } from '../config/env.validation.js';
import { ConsumersHealthIndicator } from './consumers.health.js';
import { FlowHealthIndicator } from './flow.health.js';
import { RedisHealthIndicator } from './redis.health.js';
import { StorageHealthIndicator } from './storage.health.js';

/** A check of the readiness probe. */
type ReadyCheck = 'redis' | 'consumers' | 'storage' | 'flow';

/**
 * What readiness checks in each role. Every role needs Redis, and the storage alarms concern
 * whoever accepts or handles alerts. The flow of the groups concerns only the processes that
 * consume; an api process keeps the consumers check, which lists none there, because that check
 * is the one that turns down once a shutdown begins.
 */
const READY_CHECKS: Record<ProcessRole, readonly ReadyCheck[]> = {
  all: ['redis', 'consumers', 'storage', 'flow'],
  api: ['redis', 'consumers', 'storage'],
  worker: ['redis', 'consumers', 'storage', 'flow'],
};

/** Probes for orchestrators: liveness restarts a stuck process, readiness routes traffic. */
@Controller('health')
export class HealthController {
  private readonly readyChecks: HealthIndicatorFunction[];

  constructor(
    @Inject(appConfig.KEY) app: AppConfig,
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly redis: RedisHealthIndicator,
    private readonly consumers: ConsumersHealthIndicator,
    private readonly storage: StorageHealthIndicator,
    private readonly flow: FlowHealthIndicator,
  ) {
    const checks: Record<ReadyCheck, HealthIndicatorFunction> = {
      redis: () => this.redis.isHealthy('redis'),
      consumers: () => this.consumers.isHealthy('consumers'),
      storage: () => this.storage.isHealthy('storage'),
      flow: () => this.flow.isHealthy('flow'),
    };
    this.readyChecks = READY_CHECKS[app.role].map((name) => checks[name]);
  }

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
   * circuit-open groups, without failing the probe. In the api role there are no consumers and no
   * flow detail: see READY_CHECKS.
   */
  @Get('ready')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check(this.readyChecks);
  }
}
