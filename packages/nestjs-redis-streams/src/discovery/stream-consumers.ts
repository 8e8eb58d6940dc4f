import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { DEFAULTS } from '../redis-streams.constants.js';
import { REDIS_STREAMS_OPTIONS } from '../redis-streams.module-definition.js';
import type { RedisStreamsModuleOptions } from '../interfaces/redis-streams.options.js';
import type {
  StreamHandlerFn,
  StreamHandlerOptions,
} from '../interfaces/stream-handler.interface.js';
import { RedisStreamsStatus } from '../redis-streams.status.js';
import { RedisConnections } from '../redis/redis-connections.js';
import { StreamEvents } from '../stream-events.js';
import { StreamDeclarations } from '../stream-declarations.js';
import { StreamConsumer } from '../consumer/stream-consumer.js';
import { OrderedGroup } from '../consumer/ordered-group.js';
import type { ConsumerDefinition, ConsumerRuntime } from '../consumer/consumer-definition.js';
import { assertValidName } from '../stream-keys.js';
import {
  definitionsPerStream,
  partitionCount,
  resolveHandlers,
  type DiscoveredHandler,
} from './handler-options.js';
import { StreamHandlerExplorer } from './stream-handler.explorer.js';
import { HandlerEnhancers } from './handler-enhancers.js';
import { assertOneSlotPerStream } from './cluster-slots.js';

const MAX_VALUE_BYTES = 1024 * 1024;

/** The name a registered handler goes by in messages. */
const REGISTERED = 'StreamConsumers.register';

/**
 * Options of `StreamConsumers.register`: those of `@StreamHandler`, with the group required (a
 * handler registered by hand has no `Class.method` to name its group after).
 */
export type StreamConsumerOptions = StreamHandlerOptions & { group: string };

/** A handler registered with `StreamConsumers.register`. */
export interface StreamConsumerRegistration {
  readonly stream: string;
  readonly group: string;
  /**
   * Stops its consumer as a shutdown does (calls running finish within `shutdownTimeoutMs`, then
   * are left pending) and frees its stream and group for another registration. The group and its
   * pending entries stay in Redis: a handler registered on it again carries on where this one left.
   */
  unregister(): Promise<void>;
}

/** One handler of the application, and what runs it once started. */
interface Entry {
  handler: DiscoveredHandler;
  running: Array<StreamConsumer | OrderedGroup>;
  /** Take the handler and its consumers out of the status. */
  forget: Array<() => void>;
  stopped?: Promise<void>;
}

/**
 * The application's stream consumers: every `@StreamHandler` method and every handler registered
 * here, resolved and checked together at bootstrap (every problem listed in one error), each run
 * by a consumer loop (an ordered group for `ordered: true`), and stopped on shutdown after
 * readiness has turned unhealthy.
 *
 * `register` is for handlers decided at run time (from configuration, a file): it has exactly the
 * decorator's options and semantics. Registered before bootstrap (in a constructor or
 * `onModuleInit`), a handler is checked and started with the decorated ones; after it, it is
 * checked and started at once.
 */
@Injectable()
export class StreamConsumers implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('RedisStreams');
  private readonly entries: Entry[] = [];
  /** Unregistered entries whose consumers are still draining: shutdown waits for them too. */
  private readonly leaving = new Set<Entry>();
  private phase: 'collecting' | 'running' | 'stopping' = 'collecting';

  constructor(
    private readonly explorer: StreamHandlerExplorer,
    private readonly enhancers: HandlerEnhancers,
    private readonly connections: RedisConnections,
    private readonly status: RedisStreamsStatus,
    private readonly events: StreamEvents,
    @Inject(REDIS_STREAMS_OPTIONS) private readonly options: RedisStreamsModuleOptions,
    private readonly declarations: StreamDeclarations,
  ) {}

  /**
   * Consumes `stream` in `options.group` with `handler`, as `@StreamHandler(stream, options)` on a
   * method would: the entry is acknowledged when the handler resolves, retried when it throws,
   * dead-lettered when it throws `NonRetryableError` or runs out of attempts. Throws at once,
   * listing every problem, when the options are refused or the stream and group have a handler
   * already, after bootstrap; before it, bootstrap does.
   */
  register<T = unknown>(
    stream: string,
    options: StreamConsumerOptions,
    handler: StreamHandlerFn<T>,
  ): StreamConsumerRegistration {
    if (this.phase === 'stopping') {
      throw new Error(`${REGISTERED}: the application is shutting down; nothing starts now`);
    }
    if (typeof handler !== 'function') {
      throw new TypeError(`${REGISTERED}: the handler must be a function, not ${typeof handler}`);
    }
    if (typeof options?.group !== 'string') {
      throw new TypeError(`${REGISTERED}: options.group must name the consumer group`);
    }
    const entry: Entry = {
      handler: { name: REGISTERED, stream, options, handle: handler as StreamHandlerFn },
      running: [],
      forget: [],
    };
    if (this.phase === 'running') {
      entry.handler = this.enhanced(entry.handler);
      const definitions = this.resolve([...this.entries, entry]);
      // The new handler's definition is the last: resolveHandlers keeps the order it was given.
      this.start([{ entry, definition: definitions.at(-1)! }]);
    }
    this.entries.push(entry);
    return {
      stream,
      group: options.group,
      unregister: () => this.unregister(entry),
    };
  }

  onApplicationBootstrap(): void {
    if (this.phase !== 'collecting') return;
    const registered = this.entries.splice(0);
    // Wrapped only now: global enhancers are all known at bootstrap, not at every registration.
    for (const entry of registered) entry.handler = this.enhanced(entry.handler);
    const discovered = this.explorer
      .explore()
      .map((handler): Entry => ({ handler, running: [], forget: [] }));
    const entries = [...discovered, ...registered];
    const definitions = this.resolve(entries);
    this.entries.push(...entries);
    this.phase = 'running';
    this.start(entries.map((entry, i) => ({ entry, definition: definitions[i] })));
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.phase = 'stopping';
    this.status.markShuttingDown();
    await Promise.all([...this.entries, ...this.leaving].map((entry) => this.stop(entry)));
  }

  /** A registered handler as the consumer calls it: through the global guards, interceptors and filters. */
  private enhanced(handler: DiscoveredHandler): DiscoveredHandler {
    return { ...handler, handle: this.enhancers.registered(handler.handle) };
  }

  /** The handlers' definitions, in their order; throws with every problem of every handler. */
  private resolve(entries: readonly Entry[]): ConsumerDefinition[] {
    return resolveHandlers(
      entries.map((entry) => entry.handler),
      {
        defaults: this.options.handlerDefaults,
        dedupWindowMs: this.options.dedupWindowMs,
        partitions: this.declarations.partitions(),
        groups: this.declarations.groups(),
      },
    );
  }

  /** Records the handlers in the status and, unless this instance runs no consumers, starts them. */
  private start(handlers: ReadonlyArray<{ entry: Entry; definition: ConsumerDefinition }>): void {
    const partitions = this.declarations.partitions();
    const perStream = handlers.map(({ entry, definition }) => ({
      entry,
      definition,
      streams: definitionsPerStream([definition], partitions),
    }));
    if (this.connections.mode === 'cluster') {
      assertOneSlotPerStream(perStream.flatMap(({ streams }) => streams));
    }
    for (const { entry, streams } of perStream) {
      for (const { stream, group } of streams) {
        entry.forget.push(this.status.registerHandler({ stream, group }));
      }
    }
    if (this.options.consumersEnabled === false) return;
    assertValidName('consumer', this.options.consumerName);
    const runtime: ConsumerRuntime = {
      consumerName: this.options.consumerName,
      claimMinIdleMs: this.options.claimMinIdleMs ?? DEFAULTS.claimMinIdleMs,
      staleConsumerIdleMs: this.options.staleConsumerIdleMs ?? DEFAULTS.staleConsumerIdleMs,
      maxValueBytes: MAX_VALUE_BYTES,
    };
    for (const { entry, definition } of perStream.filter((each) => each.definition.ordered)) {
      this.startOrdered(entry, definition, runtime);
    }
    for (const { entry, streams } of perStream.filter((each) => !each.definition.ordered)) {
      for (const definition of streams) this.startConcurrent(entry, definition, runtime);
    }
  }

  private startOrdered(entry: Entry, definition: ConsumerDefinition, runtime: ConsumerRuntime) {
    const settings = {
      // resolveHandlers refused an ordered handler of a stream that is not partitioned.
      partitions: partitionCount(this.declarations.partitions(), definition.stream)!,
      leaseMs: this.options.partitionLeaseMs ?? DEFAULTS.partitionLeaseMs,
    };
    const group = new OrderedGroup(definition, settings, runtime, this.connections, this.events);
    entry.running.push(group);
    entry.forget.push(this.status.register(group));
    group.start();
    this.logger.log(
      `Consuming ${definition.stream} (${settings.partitions} partitions) in group ${definition.group} ` +
        `as ${runtime.consumerName}, in order: one partition at a time, ${definition.policy.maxAttempts} attempts`,
    );
  }

  private startConcurrent(entry: Entry, definition: ConsumerDefinition, runtime: ConsumerRuntime) {
    const consumer = new StreamConsumer(definition, runtime, this.connections, this.events);
    entry.running.push(consumer);
    entry.forget.push(this.status.register(consumer));
    consumer.start();
    this.logger.log(
      `Consuming ${definition.stream} in group ${definition.group} as ${runtime.consumerName} ` +
        `(concurrency ${definition.concurrency}, ${definition.policy.maxAttempts} attempts)`,
    );
  }

  /** Stops an entry's consumers once, however often it is asked (unregister, then shutdown). */
  private stop(entry: Entry): Promise<void> {
    const timeout = this.options.shutdownTimeoutMs ?? DEFAULTS.shutdownTimeoutMs;
    entry.stopped ??= Promise.all(entry.running.map((each) => each.stop(timeout))).then(
      () => undefined,
    );
    return entry.stopped;
  }

  private async unregister(entry: Entry): Promise<void> {
    const index = this.entries.indexOf(entry);
    if (index === -1) return;
    this.entries.splice(index, 1);
    this.leaving.add(entry);
    try {
      await this.stop(entry);
    } finally {
      this.leaving.delete(entry);
      for (const forget of entry.forget.splice(0)) forget();
    }
  }
}
