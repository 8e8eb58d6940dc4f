import type { INestApplicationContext, ModuleMetadata } from '@nestjs/common';
import { Test, type TestingModule, type TestingModuleBuilder } from '@nestjs/testing';
import type { RedisStreamsModuleOptions } from '../interfaces/redis-streams.options.js';
import { RedisStreamsModule } from '../redis-streams.module.js';
import type { RedisForTests } from './redis-for-tests.interface.js';

/** The consumer name of a test app, unless its options name one. */
export const TEST_CONSUMER_NAME = 'test';

/** What `startStreamsTestApp` (and `TestStreams.start`) builds. */
export interface StreamsTestAppOptions<A extends INestApplicationContext = TestingModule> {
  /** The Redis to run on: its `url` unless `module` gives `url` or `connection`. */
  redis?: RedisForTests;
  /** RedisStreamsModule options, over `{ consumerName: 'test' }`. */
  module?: Partial<RedisStreamsModuleOptions>;
  /** More modules, beside `RedisStreamsModule.forRoot(module)`. */
  imports?: ModuleMetadata['imports'];
  /** The handlers, and what they inject. */
  providers?: ModuleMetadata['providers'];
  /** Changes to the testing module before it compiles: `overrideProvider(...)` and the like. */
  overrides?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
  /**
   * Makes the application from the compiled module. By default the module itself, with no HTTP
   * server; `(moduleRef) => moduleRef.createNestApplication()` for one with HTTP.
   */
  create?: (moduleRef: TestingModule) => A;
}

/**
 * Compiles a testing module with `RedisStreamsModule.forRoot` and the given handlers, and
 * initializes it: its consumers are running when this resolves. A startup that fails closes what
 * it opened (the Redis connections) before it throws, so nothing keeps the test process alive.
 */
export async function startStreamsTestApp<A extends INestApplicationContext = TestingModule>(
  options: StreamsTestAppOptions<A>,
): Promise<A> {
  const { redis, module = {} } = options;
  const where = redis && !module.url && !module.connection ? { url: redis.url } : {};
  let builder = Test.createTestingModule({
    imports: [
      RedisStreamsModule.forRoot({ consumerName: TEST_CONSUMER_NAME, ...where, ...module }),
      ...(options.imports ?? []),
    ],
    providers: options.providers ?? [],
  });
  if (options.overrides) builder = options.overrides(builder);
  const moduleRef = await builder.compile();
  // Without `create`, A is TestingModule, its default.
  const app = options.create ? options.create(moduleRef) : (moduleRef as unknown as A);
  try {
    await app.init();
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  return app;
}
