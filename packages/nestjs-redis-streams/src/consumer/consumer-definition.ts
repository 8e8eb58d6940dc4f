import type { FlowSettings } from './flow-settings.js';
import type { Logger } from '@nestjs/common';
import type { RedisClient } from '../redis/redis-connections.js';
import type { StreamEvents } from '../stream-events.js';
import type { RetryPolicy } from './retry-policy.js';
import type { BatchSettings } from './batch-settings.js';
import type { DtoClass, GroupStart } from '../interfaces/stream-handler.interface.js';
import type { StreamMessage } from '../interfaces/stream-message.interface.js';

/** Everything one consumer loop needs to know about its handler. */
export interface ConsumerDefinition {
  stream: string;
  group: string;
  startFrom: GroupStart;
  batchSize: number;
  concurrency: number;
  prefetch: number;
  blockMs: number;
  policy: RetryPolicy;
  dto?: DtoClass;
  rawFields?: boolean;
  /** When set, the handler runs at most once per eventId within this many ms. */
  idempotencyWindowMs?: number;
  /** Partitioned stream, one partition at a time in order (see StreamHandlerOptions.ordered). */
  ordered?: boolean;
  handle: (payload: unknown, message: StreamMessage) => unknown;
  /** The group's flow state and limits (pause, busy, circuit, rate, deadline, timeout). */
  flow: FlowSettings;
  /**
   * A batch handler: `handle` takes `(payloads, messages)`, and `concurrency` counts batch calls
   * (see StreamHandlerOptions.batch).
   */
  batch?: BatchSettings;
}

export interface ConsumerRuntime {
  consumerName: string;
  claimMinIdleMs: number;
  maxValueBytes: number;
  /** See RedisStreamsModuleOptions.staleConsumerIdleMs. */
  staleConsumerIdleMs: number;
}

/** What every part of one consumer's pipeline shares. */
export interface ConsumerContext {
  definition: ConsumerDefinition;
  runtime: ConsumerRuntime;
  /** The command connection (never a blocking one). */
  redis: () => RedisClient;
  events: StreamEvents;
  logger: Logger;
}
