// The package's public API, documented in its README. Anything not exported here is internal and
// may change in any release; the import-boundary check (.dependency-cruiser.cjs) keeps the app and
// its tests to this file.

// The module, its options and the streams it declares.
export { RedisStreamsModule } from './redis-streams.module.js';
export type { StreamFeatureAsyncOptions } from './redis-streams.module.js';
export type {
  RedisStreamsModuleOptions,
  RedisConnectionOptions,
  RedisNodeAddress,
  HandlerRuntimeDefaults,
  StreamFeatureOptions,
  GroupFlowOptions,
  RetentionRule,
} from './interfaces/redis-streams.options.js';
export { StreamDeclarations } from './stream-declarations.js';

// Handlers.
export { StreamHandler } from './decorators/stream-handler.decorator.js';
export type {
  StreamHandlerOptions,
  StreamHandlerBaseOptions,
  ConcurrentDeliveryOptions,
  OrderedDeliveryOptions,
  DecodedPayloadOptions,
  RawFieldsOptions,
  GroupStart,
  DtoClass,
  BackoffOptions,
  RateLimit,
  CircuitBreakerOptions,
  BatchOptions,
  BatchResult,
  BatchItemFailure,
  StreamBatchHandlerFn,
} from './interfaces/stream-handler.interface.js';
export type { StreamMessage } from './interfaces/stream-message.interface.js';
export { StreamConsumers } from './discovery/stream-consumers.js';
export type {
  StreamConsumerOptions,
  StreamConsumerRegistration,
} from './discovery/stream-consumers.js';
export type { StreamHandlerFn } from './interfaces/stream-handler.interface.js';
export { STREAM_CONTEXT_TYPE, streamMessageOf } from './discovery/stream-context.js';
export type { StreamContextType } from './discovery/stream-context.js';

// Publishing.
export { StreamPublisher } from './publisher/stream-publisher.js';
export type { PublishOptions, PublishResult, PublishItem } from './interfaces/publish.interface.js';

// Errors: thrown by handlers, or met by callers.
export { NonRetryableError } from './errors/non-retryable.error.js';
export { RetryLaterError } from './errors/retry-later.error.js';
export { HandlerTimeoutError } from './errors/handler-timeout.error.js';
export { BatchError } from './errors/batch.error.js';
export { InfrastructureError, isInfrastructureError } from './errors/infrastructure-error.js';
export { PublishFailedError, PublishManyError } from './errors/publish-failed.error.js';
export type { PublishItemOutcome } from './errors/publish-failed.error.js';

// Inspecting and repairing: streams, groups, pending entries, dead letters.
export { StreamInspector, UnknownStreamError } from './inspection/stream-inspector.js';
export type {
  StreamInfo,
  GroupInfo,
  ConsumerInfo,
  PendingEntry,
  DeadLetter,
  DeadLetterFilter,
  Page,
} from './inspection/stream-inspector.js';
export { DeadLetters } from './inspection/dead-letters.js';
export type { ReplayResult } from './inspection/dead-letters.js';

// Flow control by hand, events for metrics, status for health checks, storage.
export { FlowControl, type FlowState } from './flow-control.js';
export { StreamEvents } from './stream-events.js';
export type {
  StreamEventListener,
  HandledEvent,
  GroupEvent,
  EntryEvent,
  FailedEvent,
  DeadLetteredEvent,
} from './stream-events.js';
export { RedisStreamsStatus } from './redis-streams.status.js';
export type { ConsumerState, PingResult } from './redis-streams.status.js';
export type { WaitingForRedis } from './redis/redis-wait.js';
export { StreamRetention } from './retention/stream-retention.js';
export type { RetentionState } from './retention/stream-retention.js';
export type { RedisMemoryState } from './redis/redis-memory.js';
export { DurabilityCheck } from './redis/durability-check.js';
export type { DurabilityReport } from './redis/durability-check.js';

// The module's Redis connection, for an application's own commands next to the streams.
export { RedisConnections } from './redis/redis-connections.js';
export type { RedisClient, RedisMode } from './redis/redis-connections.js';

// Wire format and keys: what the library writes to Redis, for other producers and readers.
export { FIELD, DLQ_FIELD } from './redis-streams.constants.js';
export { streamKeys } from './stream-keys.js';
export { partitionOf, partitionStream } from './partitions.js';
export { STREAM_ID_PATTERN } from './stream-id.js';
