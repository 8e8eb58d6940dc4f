import { Module, type DynamicModule } from '@nestjs/common';
import { AdminModule } from './admin/admin.module.js';
import { AlertsModule } from './alerts/alerts.module.js';
import { coreModules } from './config/core-modules.js';
import type { EnvironmentVariables } from './config/env.validation.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';

/** Wiring only, from the environment that `createApp` validated. */
@Module({})
export class AppModule {
  static forRoot(env: EnvironmentVariables): DynamicModule {
    return {
      module: AppModule,
      imports: [...coreModules(env), HealthModule, MetricsModule, AlertsModule, AdminModule],
    };
  }
}
