export { RedisStreamsModule } from './redis-streams.module.js';
export type { StreamFeatureAsyncOptions } from './redis-streams.module.js';
export { StreamDeclarations } from './stream-declarations.js';
export type {
  StreamFeatureOptions,
  RedisStreamsModuleOptions,
  RedisConnectionOptions,
  RedisNodeAddress,
  BackoffOptions,
  HandlerRuntimeDefaults,
  RetentionRule,
} from './interfaces/redis-streams.options.js';
export { StreamRetention } from './retention/stream-retention.js';
export type { RetentionState } from './retention/stream-retention.js';
export type { RedisMemoryState } from './redis/redis-memory.js';
export { DurabilityCheck } from './redis/durability-check.js';
export type { DurabilityReport } from './redis/durability-check.js';
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
} from './interfaces/stream-handler.interface.js';
export type { StreamMessage } from './interfaces/stream-message.interface.js';
export { StreamPublisher } from './publisher/stream-publisher.js';
export type { PublishOptions, PublishResult, PublishItem } from './publisher/stream-publisher.js';
export { PublishFailedError, PublishManyError } from './errors/publish-failed.error.js';
export type { PublishItemOutcome } from './errors/publish-failed.error.js';
export { NonRetryableError } from './errors/non-retryable.error.js';
export { InfrastructureError, isInfrastructureError } from './errors/infrastructure-error.js';
export { RedisStreamsStatus } from './redis-streams.status.js';
export type { ConsumerState, PingResult } from './redis-streams.status.js';
export type { WaitingForRedis } from './redis/redis-wait.js';
export { RedisConnections } from './redis/redis-connections.js';
export { StreamScript } from './scripts/stream-script.js';
export type { RedisClient, RedisMode } from './redis/redis-connections.js';
export { streamKeys } from './stream-keys.js';
export { DLQ_FIELD, FIELD } from './redis-streams.constants.js';
export { redactUrl } from './util/redact.js';
export { StreamInspector, UnknownStreamError } from './inspection/stream-inspector.js';
export { DeadLetters } from './inspection/dead-letters.js';
export type { ReplayResult } from './inspection/dead-letters.js';
export type {
  StreamInfo,
  GroupInfo,
  ConsumerInfo,
  PendingEntry,
  DeadLetter,
  DeadLetterFilter,
  Page,
} from './inspection/stream-inspector.js';
export { StreamEvents } from './stream-events.js';
export type { StreamEventListener, HandledEvent, GroupEvent } from './stream-events.js';
export { STREAM_ID_PATTERN, compareStreamIds } from './stream-id.js';
export { partitionOf, partitionStream, partitionStreams } from './partitions.js';
export { withTimeout, settledWithin, TimeoutError } from './util/waits.js';
export { RetryLaterError } from './errors/retry-later.error.js';
export { FlowControl, type FlowState } from './flow-control.js';
export type { RateLimit, CircuitBreakerOptions } from './interfaces/stream-handler.interface.js';
export { HandlerTimeoutError } from './errors/handler-timeout.error.js';
export { StreamConsumers } from './discovery/stream-consumers.js';
export type {
  StreamConsumerOptions,
  StreamConsumerRegistration,
} from './discovery/stream-consumers.js';
export type { StreamHandlerFn } from './interfaces/stream-handler.interface.js';
export { STREAM_CONTEXT_TYPE, streamMessageOf } from './discovery/stream-context.js';
export type { StreamContextType } from './discovery/stream-context.js';
