import { Logger, type INestApplication, type Provider, type Type } from '@nestjs/common';
import type { RedisStreamsModuleOptions } from '@redis-streams-alerts/nestjs-redis-streams';
import { startStreamsTestApp } from '@redis-streams-alerts/nestjs-redis-streams/testing';

/**
 * Starts a Nest application with only RedisStreamsModule and the given providers (handler classes
 * and whatever they inject), as one instance of a service would run it: the kit's test app, as a
 * full application, silent unless TEST_LOGS is set.
 */
export function startStreamsApp(
  options: RedisStreamsModuleOptions,
  providers: Array<Provider | Type>,
): Promise<INestApplication> {
  return startStreamsTestApp({
    module: options,
    providers,
    create: (moduleRef) =>
      moduleRef.createNestApplication({ logger: process.env.TEST_LOGS ? new Logger() : false }),
  });
}
