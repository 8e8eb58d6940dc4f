import { Logger, type INestApplication, type Provider, type Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  RedisStreamsModule,
  type RedisStreamsModuleOptions,
} from '../../src/redis-streams/index.js';

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
  await app.init();
  return app;
}
