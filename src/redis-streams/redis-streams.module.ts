import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ConfigurableModuleClass } from './redis-streams.module-definition.js';
import { RedisConnections } from './redis-connections.js';
import { RedisStreamsStatus } from './redis-streams.status.js';
import { StreamHandlerExplorer } from './stream-handler.explorer.js';
import { StreamPublisher } from './stream-publisher.js';
import { StreamRetention } from './stream-retention.js';
import { DurabilityCheck } from './durability-check.js';
import { StreamInspector } from './stream-inspector.js';
import { DeadLetters } from './dead-letters.js';
import { StreamEvents } from './stream-events.js';

/**
 * Durable event processing on Redis Streams: `StreamPublisher` to append, `@StreamHandler` methods
 * on any provider to consume with consumer groups, retries, dead letters and crash recovery.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    RedisConnections,
    StreamPublisher,
    RedisStreamsStatus,
    StreamHandlerExplorer,
    StreamRetention,
    DurabilityCheck,
    StreamInspector,
    DeadLetters,
    StreamEvents,
  ],
  exports: [
    RedisConnections,
    StreamPublisher,
    RedisStreamsStatus,
    StreamRetention,
    DurabilityCheck,
    StreamInspector,
    DeadLetters,
    StreamEvents,
  ],
})
export class RedisStreamsModule extends ConfigurableModuleClass {}
