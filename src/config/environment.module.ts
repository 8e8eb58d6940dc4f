import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { alertsConfig } from './alerts.config.js';
import { appConfig } from './app.config.js';
import { EnvironmentVariables } from './env.validation.js';
import { redisConfig } from './redis.config.js';

/**
 * The environment, validated once by the entry point (`createApp`, `runCli`) before Nest starts,
 * provided as `EnvironmentVariables`, and the namespaces derived from it. Nothing here reads
 * `process.env` again: a stray .env or a later change to the environment cannot change what runs.
 */
@Module({})
export class EnvironmentModule {
  static forRoot(env: EnvironmentVariables): DynamicModule {
    return {
      module: EnvironmentModule,
      global: true,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          ignoreEnvVars: true,
          skipProcessEnv: true,
          load: [appConfig, redisConfig, alertsConfig].map((namespace) =>
            namespace.registerFor(env),
          ),
        }),
      ],
      providers: [{ provide: EnvironmentVariables, useValue: env }],
      exports: [EnvironmentVariables],
    };
  }
}
