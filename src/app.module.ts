import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AdminModule } from './admin/admin.module.js';
import { AlertsModule } from './alerts/alerts.module.js';
import { alertsConfig } from './config/alerts.config.js';
import { appConfig, type AppConfig } from './config/app.config.js';
import { validate } from './config/env.validation.js';
import { redisConfig, type RedisConfig } from './config/redis.config.js';
import { redisStreamsOptions } from './config/redis-streams-options.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { RedisStreamsModule } from './redis-streams/index.js';

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
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          // The process environment is the only source, in production as in tests: a stray .env
          // in the working folder must not change what runs. `npm start` loads .env for local use.
          ignoreEnvFile: true,
          validate,
          load: [appConfig, redisConfig, alertsConfig],
        }),
        RedisStreamsModule.forRootAsync({
          isGlobal: true,
          inject: [redisConfig.KEY, appConfig.KEY],
          useFactory: (redis: RedisConfig, app: AppConfig) => redisStreamsOptions(redis, app),
        }),
        HealthModule,
        MetricsModule,
        AlertsModule,
        AdminModule,
      ],
    };
  }
}
