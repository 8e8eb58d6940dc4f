import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import calculateSlot from 'cluster-key-slot';
import { DEFAULTS, STREAM_HANDLER_METADATA } from '../redis-streams.constants.js';
import { REDIS_STREAMS_OPTIONS } from '../redis-streams.module-definition.js';
import type { RedisStreamsModuleOptions } from '../interfaces/redis-streams.options.js';
import { RedisStreamsStatus } from '../redis-streams.status.js';
import { RedisConnections } from '../redis/redis-connections.js';
import { StreamEvents } from '../stream-events.js';
import { StreamConsumer } from '../consumer/stream-consumer.js';
import type { ConsumerDefinition } from '../consumer/consumer-definition.js';
import { OrderedGroup } from '../consumer/ordered-group.js';
import {
  definitionsPerStream,
  partitionCount,
  resolveHandlers,
  type DiscoveredHandler,
} from './handler-options.js';
import { StreamDeclarations } from '../stream-declarations.js';
import type { StreamHandlerMetadata } from '../decorators/stream-handler.decorator.js';
import type { StreamHandlerFn } from '../interfaces/stream-handler.interface.js';
import { assertValidName, streamKeys } from '../stream-keys.js';

const MAX_VALUE_BYTES = 1024 * 1024;

/**
 * Finds `@StreamHandler` methods on every provider once the application has started, runs one
 * consumer loop per handler, and stops them on shutdown after readiness has turned unhealthy.
 */
@Injectable()
export class StreamHandlerExplorer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('RedisStreams');
  private readonly consumers: Array<StreamConsumer | OrderedGroup> = [];
  private started = false;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly connections: RedisConnections,
    private readonly status: RedisStreamsStatus,
    private readonly events: StreamEvents,
    @Inject(REDIS_STREAMS_OPTIONS) private readonly options: RedisStreamsModuleOptions,
    private readonly declarations: StreamDeclarations,
  ) {}

  onApplicationBootstrap(): void {
    if (this.started) return;
    this.started = true;
    const partitions = this.declarations.partitions();
    const definitions = resolveHandlers(this.discover(), {
      defaults: this.options.handlerDefaults,
      dedupWindowMs: this.options.dedupWindowMs,
      partitions,
      groups: this.declarations.groups(),
    });
    const perStream = definitionsPerStream(definitions, partitions);
    if (this.connections.mode === 'cluster') assertOneSlotPerStream(perStream);
    for (const { stream, group } of perStream) this.status.registerHandler({ stream, group });
    if (this.options.consumersEnabled === false) return;
    assertValidName('consumer', this.options.consumerName);
    const runtime = {
      consumerName: this.options.consumerName,
      claimMinIdleMs: this.options.claimMinIdleMs ?? DEFAULTS.claimMinIdleMs,
      staleConsumerIdleMs: this.options.staleConsumerIdleMs ?? DEFAULTS.staleConsumerIdleMs,
      maxValueBytes: MAX_VALUE_BYTES,
    };
    for (const definition of definitions.filter((d) => d.ordered)) {
      const settings = {
        // resolveHandlers refused an ordered handler of a stream that is not partitioned.
        partitions: partitionCount(partitions, definition.stream)!,
        leaseMs: this.options.partitionLeaseMs ?? DEFAULTS.partitionLeaseMs,
      };
      const group = new OrderedGroup(definition, settings, runtime, this.connections, this.events);
      this.consumers.push(group);
      this.status.register(group);
      group.start();
      this.logger.log(
        `Consuming ${definition.stream} (${settings.partitions} partitions) in group ${definition.group} ` +
          `as ${runtime.consumerName}, in order: one partition at a time, ${definition.policy.maxAttempts} attempts`,
      );
    }
    for (const definition of perStream.filter((d) => !d.ordered)) {
      const consumer = new StreamConsumer(definition, runtime, this.connections, this.events);
      this.consumers.push(consumer);
      this.status.register(consumer);
      consumer.start();
      this.logger.log(
        `Consuming ${definition.stream} in group ${definition.group} as ${runtime.consumerName} ` +
          `(concurrency ${definition.concurrency}, ${definition.policy.maxAttempts} attempts)`,
      );
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.status.markShuttingDown();
    const timeout = this.options.shutdownTimeoutMs ?? DEFAULTS.shutdownTimeoutMs;
    await Promise.all(this.consumers.map((consumer) => consumer.stop(timeout)));
  }

  /** Every `@StreamHandler` method of a provider that lives as long as the application. */
  private discover(): DiscoveredHandler[] {
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

/**
 * On Cluster, the scripts of a stream touch the stream and the keys derived from it in one call,
 * which Redis allows only within one slot: refuse to start rather than fail every call later with
 * CROSSSLOT. A hash tag in the stream name (`app:{alerts}`) puts all of them in one slot.
 */
function assertOneSlotPerStream(definitions: ConsumerDefinition[]): void {
  const problems: string[] = [];
  for (const { stream, group } of definitions) {
    const sample = 'event-id';
    const slot = calculateSlot(stream);
    const outside = [
      streamKeys.deadLetter(stream),
      streamKeys.retries(stream, group),
      streamKeys.attempts(stream, group),
      streamKeys.dedup(stream, sample),
      streamKeys.done(stream, group, sample),
      streamKeys.lease(stream, group),
      streamKeys.fence(stream, group),
    ].filter((key) => calculateSlot(key) !== slot);
    if (outside.length > 0) problems.push(`"${stream}" (e.g. ${outside[0]})`);
  }
  if (problems.length > 0) {
    throw new Error(
      'On Redis Cluster all keys of a stream must be in one slot, or its scripts fail with CROSSSLOT: ' +
        `name each stream with a hash tag, e.g. "app:{orders}" instead of "orders". Keys in another slot than their stream: ${[...new Set(problems)].join(', ')}`,
    );
  }
}
