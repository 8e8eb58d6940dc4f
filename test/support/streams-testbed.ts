import type { INestApplication, Provider, Type } from '@nestjs/common';
import type { RedisStreamsModuleOptions } from '../../src/redis-streams/index.js';
import { RedisTestbed, type RedisTestbedOptions } from './redis-testbed.js';
import { startStreamsApp } from './streams-app.js';

/** What a spec file of the streams module shares: one redis-server and the apps its tests start. */
export class StreamsTestbed extends RedisTestbed {
  /**
   * Starts an app with RedisStreamsModule and `providers` on `redis`, or on `options.url` (the
   * fault proxy's, another server's).
   */
  async start(
    options: RedisStreamsModuleOptions,
    providers: Array<Provider | Type>,
  ): Promise<INestApplication> {
    return this.ownApp(await startStreamsApp({ url: this.redis.url, ...options }, providers));
  }
}

/** Registers the hooks of a streams spec (or `describe`): see `RedisTestbed`. */
export function streamsTestbed(options: RedisTestbedOptions = {}): StreamsTestbed {
  return new StreamsTestbed(options);
}
