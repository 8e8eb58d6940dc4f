import { Logger, type INestApplication, type Provider, type Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  RedisStreamsModule,
  type RedisStreamsModuleOptions,
} from '@redis-streams-alerts/nestjs-redis-streams';

/**
 * Starts a Nest application with only RedisStreamsModule and the given providers (handler classes
 * and whatever they inject), as one instance of a service would run it.
 */
export async function startStreamsApp(
  options: RedisStreamsModuleOptions,
  providers: Array<Provider | Type>,
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [RedisStreamsModule.forRoot(options)],
    providers,
  }).compile();
  const app = moduleRef.createNestApplication({
    logger: process.env.TEST_LOGS ? new Logger() : false,
  });
  try {
    await app.init();
  } catch (error) {
    // A startup that fails (a configuration refused) must still close the Redis connections the
    // module opened, or they keep the test process alive.
    await app.close().catch(() => undefined);
    throw error;
  }
  return app;
}
