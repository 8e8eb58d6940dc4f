import { Module, type DynamicModule } from '@nestjs/common';
import { AdminModule } from './admin/admin.module.js';
import { AlertsHttpModule } from './alerts/alerts-http.module.js';
import { AlertsModule } from './alerts/alerts.module.js';
import { coreModules } from './config/core-modules.js';
import type { EnvironmentVariables } from './config/env.validation.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';

/**
 * Wiring only, from the environment that `createApp` validated. Every role has health, metrics
 * and the alert handlers (in the api role they are known but not run: see redisStreamsOptions);
 * the worker has no alert or admin routes, so they answer 404 there.
 */
@Module({})
export class AppModule {
  static forRoot(env: EnvironmentVariables): DynamicModule {
    const routes = env.PROCESS_ROLE === 'worker' ? [AlertsModule] : [AlertsHttpModule, AdminModule];
    return {
      module: AppModule,
      imports: [...coreModules(env), HealthModule, MetricsModule, ...routes],
    };
  }
}
