import type { DynamicModule } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { RedisStreamsModule, type RedisStreamsModuleOptions } from '../redis-streams/index.js';
import { alertsConfig } from './alerts.config.js';
import { appConfig, type AppConfig } from './app.config.js';
import { validate } from './env.validation.js';
import { redisConfig, type RedisConfig } from './redis.config.js';
import { redisStreamsOptions } from './redis-streams-options.js';

/**
 * The configuration and the stream module, as the service and the CLI both load them. The
 * process environment is the only source, in production as in tests: a stray .env in the working
 * folder must not change what runs (`npm start` loads .env for local use). `adjust` lets the CLI
 * turn consumers off.
 */
export function coreModules(
  adjust: (options: RedisStreamsModuleOptions) => RedisStreamsModuleOptions = (options) => options,
): Array<DynamicModule | Promise<DynamicModule>> {
  return [
    ConfigModule.forRoot({
      isGlobal: true,
      ignoreEnvFile: true,
      validate,
      load: [appConfig, redisConfig, alertsConfig],
    }),
    RedisStreamsModule.forRootAsync({
      isGlobal: true,
      inject: [redisConfig.KEY, appConfig.KEY],
      useFactory: (redis: RedisConfig, app: AppConfig) => adjust(redisStreamsOptions(redis, app)),
    }),
  ];
}
