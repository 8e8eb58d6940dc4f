import type { DynamicModule } from '@nestjs/common';
import {
  RedisStreamsModule,
  type RedisStreamsModuleOptions,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { appConfig, type AppConfig } from './app.config.js';
import type { EnvironmentVariables } from './env.validation.js';
import { EnvironmentModule } from './environment.module.js';
import { redisConfig, type RedisConfig } from './redis.config.js';
import { redisStreamsOptions } from './redis-streams-options.js';

/**
 * The configuration and the stream module, as the service and the CLI both load them, from the
 * environment their entry point validated. `adjust` lets the CLI turn consumers off.
 */
export function coreModules(
  env: EnvironmentVariables,
  adjust: (options: RedisStreamsModuleOptions) => RedisStreamsModuleOptions = (options) => options,
): DynamicModule[] {
  return [
    EnvironmentModule.forRoot(env),
    RedisStreamsModule.forRootAsync({
      isGlobal: true,
      inject: [redisConfig.KEY, appConfig.KEY],
      useFactory: (redis: RedisConfig, app: AppConfig) => adjust(redisStreamsOptions(redis, app)),
    }),
  ];
}
