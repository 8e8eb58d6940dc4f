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
} from './redis-streams.options.js';
export { StreamRetention } from './stream-retention.js';
export type { RetentionState } from './stream-retention.js';
export type { RedisMemoryState } from './redis-memory.js';
export { DurabilityCheck } from './durability-check.js';
export type { DurabilityReport } from './durability-check.js';
export { StreamHandler } from './stream-handler.decorator.js';
export type {
  StreamHandlerOptions,
  StreamHandlerBaseOptions,
  ConcurrentDeliveryOptions,
  OrderedDeliveryOptions,
  DecodedPayloadOptions,
  RawFieldsOptions,
  GroupStart,
  DtoClass,
} from './stream-handler.interface.js';
export type { StreamMessage } from './stream-message.interface.js';
export { StreamPublisher } from './stream-publisher.js';
export type { PublishOptions, PublishResult, PublishItem } from './stream-publisher.js';
export { PublishFailedError, PublishManyError } from './publish-failed.error.js';
export type { PublishItemOutcome } from './publish-failed.error.js';
export { NonRetryableError } from './non-retryable.error.js';
export { InfrastructureError, isInfrastructureError } from './infrastructure-error.js';
export { RedisStreamsStatus } from './redis-streams.status.js';
export type { ConsumerState, PingResult } from './redis-streams.status.js';
export type { WaitingForRedis } from './redis-wait.js';
export { RedisConnections } from './redis-connections.js';
export { StreamScript } from './scripts/stream-script.js';
export type { RedisClient, RedisMode } from './redis-connections.js';
export { streamKeys } from './stream-keys.js';
export { DLQ_FIELD, FIELD } from './redis-streams.constants.js';
export { redactUrl } from './redact.js';
export { StreamInspector, UnknownStreamError } from './stream-inspector.js';
export { DeadLetters } from './dead-letters.js';
export type { ReplayResult } from './dead-letters.js';
export type {
  StreamInfo,
  GroupInfo,
  ConsumerInfo,
  PendingEntry,
  DeadLetter,
  DeadLetterFilter,
  Page,
} from './stream-inspector.js';
export { StreamEvents } from './stream-events.js';
export type { StreamEventListener, HandledEvent, GroupEvent } from './stream-events.js';
export { STREAM_ID_PATTERN, compareStreamIds } from './stream-id.js';
export { partitionOf, partitionStream, partitionStreams } from './partitions.js';
export { withTimeout, settledWithin, TimeoutError } from './waits.js';
export { RetryLaterError } from './retry-later.error.js';
export { FlowControl, type FlowState } from './flow-control.js';
export type { RateLimit, CircuitBreakerOptions } from './stream-handler.interface.js';
export { HandlerTimeoutError } from './handler-timeout.error.js';
