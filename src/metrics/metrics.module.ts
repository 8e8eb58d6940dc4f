import { Module } from '@nestjs/common';
import { Registry } from 'prom-client';
import { ReceiversModule } from '../alerts/receivers/receivers.module.js';
import { GroupFlows } from '../flow/group-flows.js';
import { MetricsController } from './metrics.controller.js';
import { createMetricsRegistry } from './metrics.registry.js';
import { ReceiverActivityMetrics } from './receiver-activity.metrics.js';
import { StreamActivityMetrics } from './stream-activity.metrics.js';
import { StreamStateMetrics } from './stream-state.metrics.js';

/**
 * `GET /metrics`: counters and histograms of stream activity, gauges read from Redis on scrape,
 * what the receivers of alerts did, and Node.js process metrics, in a registry of this application's own. Needs the global
 * `RedisStreamsModule`. Other modules may inject `Registry` to add their own metrics.
 */
@Module({
  imports: [ReceiversModule],
  controllers: [MetricsController],
  providers: [
    { provide: Registry, useFactory: createMetricsRegistry },
    StreamActivityMetrics,
    ReceiverActivityMetrics,
    StreamStateMetrics,
    GroupFlows,
  ],
  exports: [Registry],
})
export class MetricsModule {}
