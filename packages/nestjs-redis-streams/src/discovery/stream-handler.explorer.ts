import { Injectable, Logger } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import type { DiscoveredHandler } from './handler-options.js';
import { HandlerEnhancers } from './handler-enhancers.js';
import { StreamHandlerMetadataAccessor } from './stream-handler-metadata.accessor.js';

/**
 * Finds the `@StreamHandler` methods of every provider and makes each callable through its
 * enhancers; StreamConsumers checks and runs them.
 */
@Injectable()
export class StreamHandlerExplorer {
  private readonly logger = new Logger('RedisStreams');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly accessor: StreamHandlerMetadataAccessor,
    private readonly enhancers: HandlerEnhancers,
  ) {}

  /**
   * Every `@StreamHandler` method of a provider that lives as long as the application. Those of
   * request-scoped and transient providers are left out with a warning: such a provider has no
   * one instance that could consume a stream.
   */
  explore(): DiscoveredHandler[] {
    const handlers: DiscoveredHandler[] = [];
    for (const wrapper of this.discovery.getProviders()) {
      if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient) {
        this.warnIfHandlers(wrapper);
        continue;
      }
      const instance = wrapper.instance as object | null | undefined;
      if (!instance || typeof instance !== 'object') continue;
      for (const method of this.handlerMethods(Object.getPrototypeOf(instance))) {
        const { stream, options } = this.accessor.getStreamHandlerMetadata(
          (instance as Record<string, unknown>)[method],
        )!;
        handlers.push({
          name: `${instance.constructor.name}.${method}`,
          stream,
          options,
          handle: this.enhancers.method(instance, method),
        });
      }
    }
    return handlers;
  }

  private handlerMethods(prototype: object | null): string[] {
    if (!prototype) return [];
    return this.scanner
      .getAllMethodNames(prototype)
      .filter((method) =>
        this.accessor.isStreamHandler((prototype as Record<string, unknown>)[method]),
      );
  }

  private warnIfHandlers(wrapper: InstanceWrapper): void {
    // A class provider's methods are on its class; a factory's product is unknown until it runs.
    const type = wrapper.inject ? undefined : wrapper.metatype;
    const methods = this.handlerMethods((type?.prototype as object | undefined) ?? null);
    if (methods.length === 0) return;
    const scope = wrapper.isTransient
      ? 'transient'
      : 'request-scoped (or depends on a request-scoped provider)';
    this.logger.warn(
      `${wrapper.name} is ${scope}, so its @StreamHandler methods do not consume: ` +
        `${methods.map((method) => `${wrapper.name}.${method}`).join(', ')}. ` +
        'A stream handler needs one instance for the life of the application: make the provider a singleton.',
    );
  }
}
