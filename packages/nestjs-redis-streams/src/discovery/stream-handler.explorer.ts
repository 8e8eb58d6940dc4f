import { Injectable } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { STREAM_HANDLER_METADATA } from '../redis-streams.constants.js';
import type { StreamHandlerMetadata } from '../decorators/stream-handler.decorator.js';
import type { StreamHandlerFn } from '../interfaces/stream-handler.interface.js';
import type { DiscoveredHandler } from './handler-options.js';

/** Finds the `@StreamHandler` methods of every provider; StreamConsumers runs them. */
@Injectable()
export class StreamHandlerExplorer {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  /** Every `@StreamHandler` method of a provider that lives as long as the application. */
  explore(): DiscoveredHandler[] {
    const handlers: DiscoveredHandler[] = [];
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      for (const method of this.scanner.getAllMethodNames(Object.getPrototypeOf(instance))) {
        const fn = instance[method];
        if (typeof fn !== 'function') continue;
        const meta = this.reflector.get<StreamHandlerMetadata | undefined>(
          STREAM_HANDLER_METADATA,
          fn,
        );
        if (!meta) continue;
        handlers.push({
          name: `${instance.constructor.name}.${method}`,
          stream: meta.stream,
          options: meta.options,
          handle: (fn as StreamHandlerFn).bind(instance),
        });
      }
    }
    return handlers;
  }
}
