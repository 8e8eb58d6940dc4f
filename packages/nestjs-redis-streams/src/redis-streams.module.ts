import {
  Module,
  type DynamicModule,
  type FactoryProvider,
  type ModuleMetadata,
  type ValueProvider,
} from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ConfigurableModuleClass } from './redis-streams.module-definition.js';
import type { StreamFeatureOptions } from './interfaces/redis-streams.options.js';
import { StreamDeclarations, StreamFeature } from './stream-declarations.js';
import { RedisConnections } from './redis/redis-connections.js';
import { RedisStreamsStatus } from './redis-streams.status.js';
import { StreamHandlerExplorer } from './discovery/stream-handler.explorer.js';
import { StreamConsumers } from './discovery/stream-consumers.js';
import { StreamHandlerMetadataAccessor } from './discovery/stream-handler-metadata.accessor.js';
import { HandlerEnhancers } from './discovery/handler-enhancers.js';
import { StreamPublisher } from './publisher/stream-publisher.js';
import { StreamRetention } from './retention/stream-retention.js';
import { DurabilityCheck } from './redis/durability-check.js';
import { StreamInspector } from './inspection/stream-inspector.js';
import { DeadLetters } from './inspection/dead-letters.js';
import { StreamEvents } from './stream-events.js';
import { FlowControl } from './flow-control.js';

/** What the module offers for injection; discovery (which finds and wraps the handlers) stays inside. */
const SERVICES = [
  StreamConsumers,
  RedisConnections,
  StreamPublisher,
  RedisStreamsStatus,
  StreamRetention,
  DurabilityCheck,
  StreamInspector,
  DeadLetters,
  StreamEvents,
  StreamDeclarations,
  FlowControl,
];

/**
 * Durable event processing on Redis Streams: `StreamPublisher` to append, `@StreamHandler` methods
 * on any provider (or `StreamConsumers.register`) to consume with consumer groups, retries, dead
 * letters and crash recovery.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [StreamHandlerMetadataAccessor, HandlerEnhancers, StreamHandlerExplorer, ...SERVICES],
  exports: SERVICES,
})
export class RedisStreamsModule extends ConfigurableModuleClass {
  /**
   * Declares a stream from the module that owns it: its partitions and retention. Works with a
   * `forRoot` that is not global too: the declaration is found by discovery.
   */
  static forFeature(options: StreamFeatureOptions): DynamicModule {
    return featureModule({ useValue: new StreamFeature(options) });
  }

  /** `forFeature` with options that come from providers, such as a configuration namespace. */
  static forFeatureAsync(options: StreamFeatureAsyncOptions): DynamicModule {
    return featureModule(
      {
        useFactory: async (...args: unknown[]) => {
          // Nest passes the providers named in `inject`, in order, as `useFactory` expects them.
          const declare = options.useFactory as (
            ...args: unknown[]
          ) => ReturnType<typeof options.useFactory>;
          return new StreamFeature(await declare(...args));
        },
        inject: options.inject ?? [],
      },
      options.imports,
    );
  }
}

/** Options of `RedisStreamsModule.forFeatureAsync`. */
export interface StreamFeatureAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  inject?: FactoryProvider['inject'];
  useFactory: (...args: never[]) => StreamFeatureOptions | Promise<StreamFeatureOptions>;
}

/** Holds the declarations of `forFeature`; nothing else, so importing it twice costs nothing. */
@Module({})
class RedisStreamsFeatureModule {}

let features = 0;

function featureModule(
  provider: Omit<ValueProvider, 'provide'> | Omit<FactoryProvider, 'provide'>,
  imports: ModuleMetadata['imports'] = [],
): DynamicModule {
  // A token of its own: Nest merges dynamic modules whose metadata serializes the same.
  const provide = `RedisStreamsFeature#${++features}`;
  return { module: RedisStreamsFeatureModule, imports, providers: [{ provide, ...provider }] };
}
