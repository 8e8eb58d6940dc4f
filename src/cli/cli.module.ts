import { Module, type DynamicModule } from '@nestjs/common';
import { AlertsModule } from '../alerts/alerts.module.js';
import { coreModules } from '../config/core-modules.js';
import type { EnvironmentVariables } from '../config/env.validation.js';
import { GroupFlows } from '../flow/group-flows.js';
import type { RedisStreamsModuleOptions } from '@redis-streams-alerts/nestjs-redis-streams';
import { COMMANDS } from './command-registry.js';
import { RedisReachability } from './redis-reachability.js';

/**
 * The service's options for a tool: no consumer loop (it must never read, claim or acknowledge
 * work), no retention timer, and connections named as the CLI's in `CLIENT LIST`.
 */
export function cliStreamsOptions(service: RedisStreamsModuleOptions): RedisStreamsModuleOptions {
  return {
    ...service,
    consumersEnabled: false,
    retentionEnabled: false,
    redis: { ...service.redis, connectionName: `${service.consumerName}:cli` },
  };
}

/**
 * The CLI's application context: the service's configuration and stream module, and the modules
 * that declare `@StreamHandler` methods. Their handlers are discovered but not run: the inspector
 * knows a stream only through them. A module that adds handlers to `AppModule` belongs here too.
 */
@Module({})
export class CliModule {
  static forRoot(env: EnvironmentVariables): DynamicModule {
    return {
      module: CliModule,
      imports: [...coreModules(env, cliStreamsOptions), AlertsModule],
      providers: [RedisReachability, GroupFlows, ...new Set(COMMANDS.map(({ runner }) => runner))],
    };
  }
}
