import { Injectable, type INestApplication, type OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import {
  FIELD,
  StreamEvents,
  StreamHandler,
  StreamPublisher,
  type BatchOptions,
  type RedisStreamsModuleOptions,
  type StreamMessage,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { startStreamsApp } from '../test/support/streams-app.js';

/** A typical alert, the payload of every benchmark event. */
export const ALERT = {
  message: 'Critical alert! Server down.',
  severity: 'critical',
  source: 'db-1',
  labels: { dc: 'eu-1' },
};

/** The fields StreamPublisher writes, so raw producers make entries the module can decode. */
export function entryFields(eventId: string, payload: unknown): string[] {
  return [
    FIELD.eventId,
    eventId,
    FIELD.payload,
    JSON.stringify(payload),
    FIELD.publishedAt,
    String(Date.now()),
  ];
}

/** Appends `count` events in pipelines of 1,000 plain XADDs. */
export async function fillStream(redis: Redis, stream: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += 1_000) {
    const pipeline = redis.pipeline();
    for (let i = start; i < Math.min(start + 1_000, count); i++) {
      pipeline.xadd(stream, '*', ...entryFields(`bench-${i}`, ALERT));
    }
    await pipeline.exec();
  }
}

export interface ModuleConsumerOptions {
  url: string;
  stream: string;
  group: string;
  consumerName: string;
  batchSize?: number;
  concurrency?: number;
  prefetch?: number;
  /** A batch handler instead (`onHandle` is then called for each payload of each batch). */
  batch?: BatchOptions;
  /** Called for each handler call, with the payload. */
  onHandle?: (payload: unknown) => void;
  /** Called once per acknowledged entry (StreamEvents `handled`). */
  onAcked: () => void;
}

/** A Nest app with only the library and one no-op `@StreamHandler`, as one service instance runs it. */
export async function startModuleConsumer(
  options: ModuleConsumerOptions,
): Promise<INestApplication> {
  const { stream, group, batchSize, concurrency, prefetch, batch, onHandle, onAcked } = options;

  @Injectable()
  class AckCounter implements OnModuleInit {
    constructor(private readonly events: StreamEvents) {}

    // Subscribed before the consumers start (onApplicationBootstrap), so no acknowledgement is missed.
    onModuleInit(): void {
      this.events.subscribe({ handled: (event) => event.group === group && onAcked() });
    }
  }

  @Injectable()
  class BenchHandler {
    @StreamHandler(stream, { group, batchSize, concurrency, prefetch })
    handle(payload: unknown, _message: StreamMessage): void {
      onHandle?.(payload);
    }
  }

  @Injectable()
  class BenchBatchHandler {
    @StreamHandler(stream, { group, batchSize, concurrency, prefetch, batch })
    handle(payloads: unknown[], _messages: StreamMessage[]): void {
      if (onHandle) for (const payload of payloads) onHandle(payload);
    }
  }

  return startStreamsApp(moduleOptions(options.url, options.consumerName), [
    AckCounter,
    batch ? BenchBatchHandler : BenchHandler,
  ]);
}

/** A publish-only instance of the library; the de-duplication window is short so Redis stays small. */
export async function startModulePublisher(
  url: string,
): Promise<{ app: INestApplication; publisher: StreamPublisher }> {
  const app = await startStreamsApp(
    { ...moduleOptions(url, 'bench-publisher'), consumersEnabled: false },
    [],
  );
  return { app, publisher: app.get(StreamPublisher) };
}

function moduleOptions(url: string, consumerName: string): RedisStreamsModuleOptions {
  return { url, consumerName, dedupWindowMs: 60_000, shutdownTimeoutMs: 2_000 };
}
