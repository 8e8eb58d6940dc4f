import type { INestApplication, Provider, Type } from '@nestjs/common';
import type { RedisStreamsModuleOptions } from '@redis-streams-alerts/nestjs-redis-streams';
import { RedisTestbed, type RedisTestbedOptions } from './redis-testbed.js';
import { startStreamsApp } from './streams-app.js';
import { PROBE, type Probe } from './stream-probe.js';

type AppOptions = Partial<RedisStreamsModuleOptions>;

/** Starts one consumer of a spec's handlers, which record to `probe`. */
export type ProbedStart = (
  probe: Probe,
  consumerName: string,
  options?: AppOptions,
) => Promise<INestApplication>;

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

  /** The `start` of a spec whose apps run `handlers` with its `defaults`, which a start overrides. */
  probedStart(handlers: Type[], defaults: AppOptions): ProbedStart {
    return (probe, consumerName, options = {}) =>
      this.start({ ...defaults, consumerName, ...options }, [
        { provide: PROBE, useValue: probe },
        ...handlers,
      ]);
  }
}

/** Registers the hooks of a streams spec (or `describe`): see `RedisTestbed`. */
export function streamsTestbed(options: RedisTestbedOptions = {}): StreamsTestbed {
  return new StreamsTestbed(options);
}
