import { Inject, Injectable } from '@nestjs/common';
import { Cluster } from 'ioredis';
import { DEFAULTS } from '../redis-streams.constants.js';
import { REDIS_STREAMS_OPTIONS } from '../redis-streams.module-definition.js';
import type { RedisStreamsModuleOptions } from '../interfaces/redis-streams.options.js';
import { RedisConnections } from '../redis/redis-connections.js';
import { newEventId } from './event-id.js';
import { partitionOf, partitionStream } from '../partitions.js';
import { StreamDeclarations } from '../stream-declarations.js';
import { encodeEntry } from '../stream-codec.js';
import { StreamEvents } from '../stream-events.js';
import { withPublishSpan } from '../trace-context.js';
import { assertValidEventId, assertValidName, streamKeys } from '../stream-keys.js';
import { PUBLISH } from '../scripts/publish.script.js';
import { isNoScript } from '../scripts/stream-script.js';
import { settled, writeTogether } from './write-together.js';
import { PublishBatcher } from './publish-batcher.js';
import {
  PublishFailedError,
  PublishManyError,
  type PublishItemOutcome,
} from '../errors/publish-failed.error.js';
import type {
  PublishItem,
  PublishOptions,
  PublishResult,
} from '../interfaces/publish.interface.js';

/**
 * How many events one script call appends at most. Calls of a batch leave one after the other as
 * they are built, so Redis appends the first while the client builds the next; it also bounds
 * the time Redis spends in one call.
 */
const EVENTS_PER_CALL = 25;

interface Prepared {
  eventId: string;
  /**
   * How long its de-duplication key lives; 0 for none. Only eventIds the caller chose are
   * de-duplicated: a generated eventId is new, and a caller whose publish failed never learnt it,
   * so it cannot come back (a resent call is caught by its guard instead, see `sendUnbounded`).
   */
  dedupMs: number;
  /** Field/value strings of the entry. */
  fields: string[];
}

/**
 * Appends events to streams. Resolves only once Redis has the entry; fails fast when it cannot.
 *
 * `publish` calls made in the same turn of the event loop (concurrent HTTP requests, say) go to
 * Redis together, as `publishMany` sends its events: in script calls of up to 25 events, each
 * written as soon as it is built, so Redis appends one call's events while the client builds the
 * next. Redis runs one command per call, not one per event, and each caller still learns about
 * its own event only once Redis has it.
 */
@Injectable()
export class StreamPublisher {
  private readonly batcher = new PublishBatcher<Prepared, PublishResult>(
    (stream, maxLen, items) => this.send(stream, maxLen, items),
    EVENTS_PER_CALL,
  );

  constructor(
    private readonly connections: RedisConnections,
    private readonly events: StreamEvents,
    @Inject(REDIS_STREAMS_OPTIONS) private readonly options: RedisStreamsModuleOptions,
    private readonly declarations: StreamDeclarations,
  ) {}

  async publish(
    stream: string,
    payload: unknown,
    options: PublishOptions = {},
  ): Promise<PublishResult> {
    assertValidName('stream', stream);
    assertValidMaxLen(options.maxLen);
    return withPublishSpan(stream, 1, (traceFields) => {
      const item = this.prepare(
        { payload, eventId: options.eventId },
        options.dedupWindowMs,
        traceFields,
      );
      const target = this.route(stream, options.partitionKey ?? item.eventId);
      return this.batcher.add(target, options.maxLen, item);
    });
  }

  /**
   * Publishes a batch in one round trip; results are in the order of `items`. Resolves only when
   * Redis confirmed every item. Otherwise rejects with a `PublishManyError` whose `outcomes` say,
   * per item, which were published (a batch goes in several script calls, to several partitions,
   * and some may succeed while others fail) and the eventId of each failed one, to retry with.
   */
  async publishMany(
    stream: string,
    items: PublishItem[],
    options: Pick<PublishOptions, 'maxLen' | 'dedupWindowMs'> = {},
  ): Promise<PublishResult[]> {
    assertValidName('stream', stream);
    assertValidMaxLen(options.maxLen);
    if (items.length === 0) return [];
    return withPublishSpan(stream, items.length, async (traceFields) => {
      const prepared = items.map((item) => this.prepare(item, options.dedupWindowMs, traceFields));
      // One send per target stream (partition), in parallel; outcomes go back in item order.
      const byTarget = new Map<string, number[]>();
      prepared.forEach((item, i) => {
        const target = this.route(stream, items[i].partitionKey ?? item.eventId);
        const positions = byTarget.get(target) ?? [];
        positions.push(i);
        byTarget.set(target, positions);
      });
      const outcomes = new Array<PublishItemOutcome>(items.length);
      await Promise.all(
        [...byTarget].map(async ([target, positions]) => {
          const sent = positions.map((i) => prepared[i]);
          const results = await this.send(target, options.maxLen, sent).catch((error: unknown) =>
            sent.map(() => asPublishFailed(target, error)),
          );
          results.forEach((result, k) => {
            outcomes[positions[k]] =
              result instanceof Error
                ? { status: 'failed', eventId: sent[k].eventId, error: result }
                : { status: 'published', result };
          });
        }),
      );
      const published: PublishResult[] = [];
      for (const outcome of outcomes) {
        if (outcome.status === 'failed') throw new PublishManyError(stream, outcomes);
        published.push(outcome.result);
      }
      return published;
    });
  }

  /** The stream an event goes to: the stream, or the partition its key belongs to. */
  private route(stream: string, key: string): string {
    const partitions = this.declarations.partitionsOf(stream);
    if (partitions === undefined) return stream;
    return partitionStream(stream, partitionOf(key, partitions));
  }

  private prepare(
    item: PublishItem,
    dedupWindowMs: number | undefined,
    traceFields: string[],
  ): Prepared {
    const chosen = item.eventId !== undefined;
    const eventId = item.eventId ?? newEventId();
    if (chosen) assertValidEventId(eventId);
    const window = dedupWindowMs ?? this.options.dedupWindowMs ?? DEFAULTS.dedupWindowMs;
    if (!Number.isInteger(window) || window < 1) {
      throw new RangeError('dedupWindowMs must be a positive integer');
    }
    return {
      eventId,
      dedupMs: chosen ? window : 0,
      fields: encodeEntry(eventId, item.payload, Date.now(), traceFields),
    };
  }

  /**
   * Sends events in script calls of up to EVENTS_PER_CALL, each written when built. Each event's
   * outcome is its result or the PublishFailedError of its call; the promise itself rejects only
   * when nothing could be confirmed at all (Redis unreachable, replicas missing).
   */
  private async send(
    stream: string,
    maxLen: number | undefined,
    items: Prepared[],
  ): Promise<Array<PublishResult | PublishFailedError>> {
    // Bounded in time whatever the client does underneath (a Cluster client retries through a
    // failover for up to about 10 s): the caller gets its answer within the publish timeout.
    const timeoutMs =
      (this.options.publishTimeoutMs ?? DEFAULTS.publishTimeoutMs) +
      (this.waitsForReplicas() ? this.options.waitForReplicas!.timeoutMs : 0);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new PublishFailedError(
              stream,
              new Error(
                `Redis did not confirm within ${timeoutMs} ms (the entry may still be appended; ` +
                  'publishing again with the same eventId does not duplicate it)',
              ),
            ),
          ),
        timeoutMs + 250,
      );
    });
    try {
      return await Promise.race([this.sendUnbounded(stream, maxLen, items), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async sendUnbounded(
    stream: string,
    maxLen: number | undefined,
    items: Prepared[],
  ): Promise<Array<PublishResult | PublishFailedError>> {
    try {
      await this.connections.whenReady(
        this.connections.command,
        this.options.publishTimeoutMs ?? DEFAULTS.publishTimeoutMs,
      );
      const guardMs = this.connections.mayResend ? String(DEFAULTS.resendGuardMs) : '0';
      const calls: Array<{ keys: string[]; args: string[]; items: Prepared[] }> = [];
      const sent: Array<Promise<Array<[Error | null, unknown]>>> = [];
      for (let from = 0; from < items.length; from += EVENTS_PER_CALL) {
        const chunk = items.slice(from, from + EVENTS_PER_CALL);
        const keys = [stream];
        // A call's guard is the dedup key of a new id that nobody is ever given: no eventId, even
        // one a caller publishes later under its own name, can find it.
        if (guardMs !== '0') keys.push(streamKeys.dedup(stream, newEventId()));
        const args = [
          maxLen === undefined ? '' : String(maxLen),
          guardMs !== '0' ? '2' : '0',
          guardMs,
        ];
        for (const { eventId, dedupMs, fields } of chunk) {
          if (dedupMs > 0) keys.push(streamKeys.dedup(stream, eventId));
          args.push(
            dedupMs > 0 ? String(keys.length) : '0',
            String(dedupMs),
            String(fields.length),
            ...fields,
          );
        }
        const call = { keys, args, items: chunk };
        calls.push(call);
        // Each call leaves as soon as it is built, so Redis runs it while the next one is built.
        // WAIT, if any, goes with the last: it covers every write before it on the connection.
        sent.push(this.sendCalls([call], false, from + EVENTS_PER_CALL >= items.length));
      }
      const replies = (await Promise.all(sent)).flat();
      let waited = this.waitsForReplicas() ? replies.pop() : undefined;
      // Redis lost its script cache (restart): those calls again, with the source. Only those:
      // nothing of a call answered NOSCRIPT was applied, and generated eventIds are not
      // de-duplicated, so a call that was applied must not go again.
      const lost = calls.flatMap((_, c) => (isNoScript(replies[c][0]) ? [c] : []));
      if (lost.length > 0) {
        const again = await this.sendCalls(
          lost.map((c) => calls[c]),
          true,
          true,
        );
        if (waited) waited = again.pop();
        lost.forEach((c, k) => (replies[c] = again[k]));
      }
      const outcomes: Array<PublishResult | PublishFailedError> = [];
      let confirmed = 0;
      let duplicates = 0;
      replies.forEach(([error, reply], c) => {
        const chunk = calls[c].items;
        if (error) {
          for (let i = 0; i < chunk.length; i++)
            outcomes.push(new PublishFailedError(stream, error));
          return;
        }
        const flat = reply as Array<Buffer | number>;
        for (let i = 0; i < chunk.length; i++) {
          const duplicate = flat[2 * i + 1] === 1;
          if (duplicate) duplicates++;
          else confirmed++;
          outcomes.push({ id: String(flat[2 * i]), eventId: chunk[i].eventId, duplicate, stream });
        }
      });
      if (waited) this.checkReplicas(waited);
      if (confirmed + duplicates > 0) {
        this.events.emit('published', { stream, count: confirmed, duplicates });
      }
      return outcomes;
    } catch (error) {
      throw new PublishFailedError(stream, error);
    }
  }

  private waitsForReplicas(): boolean {
    return (this.options.waitForReplicas?.replicas ?? 0) > 0;
  }

  /**
   * With `waitForReplicas`, an entry counts as published only once enough replicas have it. WAIT
   * goes on the same connection as the appends, in the same write, so it reaches the server that
   * has them (on Cluster, in a pipeline to the master of the stream's slot) and costs no extra
   * round trip.
   */
  private checkReplicas([error, reply]: [Error | null, unknown]): void {
    const wanted = this.options.waitForReplicas!;
    if (error) throw error;
    const confirmed = Number(reply);
    if (confirmed < wanted.replicas) {
      throw new Error(
        `only ${confirmed} of ${wanted.replicas} replicas confirmed the write within ${wanted.timeoutMs} ms ` +
          '(the primary has it; publishing again with the same eventId does not duplicate it)',
      );
    }
  }

  /**
   * Sends the calls (and WAIT, when replicas are wanted and `withWait`) in one write. Never
   * rejects: each call's outcome is [error, null] or [null, reply], as a pipeline reports it.
   */
  private async sendCalls(
    calls: Array<{ keys: string[]; args: string[] }>,
    withSource: boolean,
    withWait: boolean,
  ): Promise<Array<[Error | null, unknown]>> {
    const redis = this.connections.command;
    const wanted = this.options.waitForReplicas;
    const waits = withWait && wanted !== undefined && wanted.replicas > 0;
    // WAIT has no key: on a Cluster only a pipeline takes it to the node the appends went to.
    if (waits && redis instanceof Cluster) {
      const pipeline = redis.pipeline();
      for (const { keys, args } of calls) PUBLISH.queue(pipeline, keys, args, withSource);
      pipeline.wait(wanted.replicas, wanted.timeoutMs);
      try {
        const replies = await pipeline.exec();
        if (replies) return replies;
        throw new Error('pipeline was discarded');
      } catch (error) {
        return Array.from({ length: calls.length + 1 }, (): [Error | null, unknown] => [
          error as Error,
          null,
        ]);
      }
    }
    // Without a Pipeline object: see write-together.ts.
    const sent = writeTogether(redis, () => {
      const replies = calls.map(({ keys, args }) => PUBLISH.send(redis, keys, args, withSource));
      if (waits) replies.push(redis.wait(wanted.replicas, wanted.timeoutMs));
      return replies;
    });
    return Promise.all(sent.map(settled));
  }
}

function asPublishFailed(stream: string, error: unknown): PublishFailedError {
  return error instanceof PublishFailedError ? error : new PublishFailedError(stream, error);
}

function assertValidMaxLen(maxLen: number | undefined): void {
  if (maxLen !== undefined && (!Number.isInteger(maxLen) || maxLen < 1)) {
    throw new RangeError('maxLen must be a positive integer');
  }
}
