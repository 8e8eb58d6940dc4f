import { Inject, Injectable } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import { DEFAULTS } from './redis-streams.constants.js';
import { REDIS_STREAMS_OPTIONS } from './redis-streams.module-definition.js';
import type { RedisStreamsModuleOptions } from './redis-streams.options.js';
import { RedisConnections } from './redis-connections.js';
import { encodeEntry } from './stream-codec.js';
import { StreamEvents } from './stream-events.js';
import { withPublishSpan } from './trace-context.js';
import { assertValidEventId, assertValidName, streamKeys } from './stream-keys.js';
import { PUBLISH, isNoScript } from './stream-scripts.js';

export interface PublishOptions {
  /** The event's id; generated (UUIDv7: unique and time-ordered) when absent. */
  eventId?: string;
  /** Trim the stream to about this many entries (XADD MAXLEN ~). */
  maxLen?: number;
}

export interface PublishResult {
  /** The stream entry id. */
  id: string;
  eventId: string;
  /** True when this eventId was already published within the de-duplication window: nothing new was appended. */
  duplicate: boolean;
}

export interface PublishItem {
  payload: unknown;
  eventId?: string;
}

/** Redis did not confirm the entry: it may be unreachable, slow, or refusing writes. Safe to retry with the same eventId. */
export class PublishFailedError extends Error {
  constructor(stream: string, cause: unknown) {
    super(
      `Could not publish to stream "${stream}": ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
    this.name = 'PublishFailedError';
  }
}

/** Appends events to streams. Resolves only once Redis has the entry; fails fast when it cannot. */
@Injectable()
export class StreamPublisher {
  constructor(
    private readonly connections: RedisConnections,
    private readonly events: StreamEvents,
    @Inject(REDIS_STREAMS_OPTIONS) private readonly options: RedisStreamsModuleOptions,
  ) {}

  async publish(
    stream: string,
    payload: unknown,
    options: PublishOptions = {},
  ): Promise<PublishResult> {
    const [result] = await this.publishMany(
      stream,
      [{ payload, eventId: options.eventId }],
      options,
    );
    return result;
  }

  /** Publishes a batch in one round trip; results are in the order of `items`. */
  async publishMany(
    stream: string,
    items: PublishItem[],
    options: Pick<PublishOptions, 'maxLen'> = {},
  ): Promise<PublishResult[]> {
    assertValidName('stream', stream);
    if (items.length === 0) return [];
    return withPublishSpan(stream, items.length, (traceFields) =>
      this.append(stream, items, options.maxLen, traceFields),
    );
  }

  private async append(
    stream: string,
    items: PublishItem[],
    maxLen: number | undefined,
    traceFields: string[],
  ): Promise<PublishResult[]> {
    const prepared = items.map((item) => {
      const eventId = item.eventId ?? uuidv7();
      assertValidEventId(eventId);
      return { eventId, args: this.scriptArgs(eventId, item.payload, maxLen, traceFields) };
    });
    try {
      await this.connections.whenReady(
        this.connections.command,
        this.options.publishTimeoutMs ?? DEFAULTS.publishTimeoutMs,
      );
      let replies = await this.runPipeline(stream, prepared);
      if (replies.some(([error]) => isNoScript(error))) {
        // Redis lost its script cache (restart): load once, then run again; the eventId makes it safe.
        await this.connections.command.script('LOAD', PUBLISH.source);
        replies = await this.runPipeline(stream, prepared);
      }
      const results = replies.map(([error, reply], i) => {
        if (error) throw error;
        const [id, duplicate] = reply as [Buffer, number];
        return { id: id.toString(), eventId: prepared[i].eventId, duplicate: duplicate === 1 };
      });
      await this.waitForReplicas();
      const duplicates = results.filter((r) => r.duplicate).length;
      this.events.emit('published', { stream, count: results.length - duplicates, duplicates });
      return results;
    } catch (error) {
      throw new PublishFailedError(stream, error);
    }
  }

  /** With `waitForReplicas`, an entry counts as published only once enough replicas have it. */
  private async waitForReplicas(): Promise<void> {
    const wanted = this.options.waitForReplicas;
    if (!wanted || wanted.replicas <= 0) return;
    const confirmed = await this.connections.command.wait(wanted.replicas, wanted.timeoutMs);
    if (confirmed < wanted.replicas) {
      throw new Error(
        `only ${confirmed} of ${wanted.replicas} replicas confirmed the write within ${wanted.timeoutMs} ms ` +
          '(the primary has it; publishing again with the same eventId does not duplicate it)',
      );
    }
  }

  private scriptArgs(
    eventId: string,
    payload: unknown,
    maxLen: number | undefined,
    traceFields: string[],
  ): string[] {
    if (maxLen !== undefined && (!Number.isInteger(maxLen) || maxLen < 1)) {
      throw new RangeError('maxLen must be a positive integer');
    }
    const window = this.options.dedupWindowMs ?? DEFAULTS.dedupWindowMs;
    return [
      String(window),
      maxLen === undefined ? '' : String(maxLen),
      ...encodeEntry(eventId, payload, Date.now(), traceFields),
    ];
  }

  private async runPipeline(
    stream: string,
    prepared: Array<{ eventId: string; args: string[] }>,
  ): Promise<Array<[Error | null, unknown]>> {
    const pipeline = this.connections.command.pipeline();
    for (const { eventId, args } of prepared) {
      PUBLISH.queue(pipeline, [stream, streamKeys.dedup(stream, eventId)], args);
    }
    const replies = await pipeline.exec();
    if (!replies) throw new Error('pipeline was discarded');
    return replies;
  }
}
