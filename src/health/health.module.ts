import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { GroupFlows } from '../flow/group-flows.js';
import { ConsumersHealthIndicator } from './consumers.health.js';
import { FlowHealthIndicator } from './flow.health.js';
import { HealthController } from './health.controller.js';
import { RedisHealthIndicator } from './redis.health.js';
import { StorageHealthIndicator } from './storage.health.js';

/** GET /health/live and /health/ready; needs the global `RedisStreamsModule`. */
@Module({
  imports: [TerminusModule],
  controllers: [HealthController],
  providers: [
    RedisHealthIndicator,
    ConsumersHealthIndicator,
    StorageHealthIndicator,
    FlowHealthIndicator,
    GroupFlows,
  ],
})
export class HealthModule {}
