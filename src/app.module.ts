import { Module, type DynamicModule } from '@nestjs/common';
import { AdminModule } from './admin/admin.module.js';
import { AlertsModule } from './alerts/alerts.module.js';
import { coreModules } from './config/core-modules.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';

/**
 * Wiring only. A `forRoot()` method rather than static metadata because `ConfigModule.forRoot`
 * validates the environment when it is called: at import time it would read the environment
 * before `createApp` (and the e2e tests) set it, and a failure there would be an unhandled
 * rejection instead of a clean error.
 */
@Module({})
export class AppModule {
  static forRoot(): DynamicModule {
    return {
      module: AppModule,
      imports: [...coreModules(), HealthModule, MetricsModule, AlertsModule, AdminModule],
    };
  }
}
