import type { RedisStreamsStatus } from '../redis-streams.status.js';
import type { StreamDeclarations } from '../stream-declarations.js';

/** A consumer group of a handler, on the Redis stream it reads. */
export interface HandlerGroup {
  stream: string;
  group: string;
}

/** A Redis stream by the name handlers use, and its partition when the stream is partitioned. */
export interface StreamName {
  stream: string;
  partition?: number;
}

const PARTITION = /^:\{(\d+)\}(.*)$/;

/**
 * The streams an app's handlers consume, by the names Redis knows (`orders:{3}`) and by the names
 * handlers and publishers use (`orders`, partition 3).
 */
export class AppStreams {
  constructor(
    private readonly status: RedisStreamsStatus,
    private readonly declarations: StreamDeclarations,
  ) {}

  /** Every group of every handler of the app, on each Redis stream it reads. */
  groups(): HandlerGroup[] {
    return this.status.handlers();
  }

  /** The groups on the Redis streams of `stream` (a name handlers use, or a Redis stream); all without one. */
  groupsOf(stream?: string): HandlerGroup[] {
    const groups = this.groups();
    if (stream === undefined) return groups;
    return groups.filter(
      (each) => each.stream === stream || this.named(each.stream).stream === stream,
    );
  }

  /** The name handlers use for a Redis stream: `orders:{3}` is partition 3 of `orders`. */
  named(redisStream: string): StreamName {
    for (const stream of Object.keys(this.declarations.partitions())) {
      if (!redisStream.startsWith(`${stream}:{`)) continue;
      const match = PARTITION.exec(redisStream.slice(stream.length));
      if (match) return { stream: `${stream}${match[2]}`, partition: Number(match[1]) };
    }
    return { stream: redisStream };
  }

  /** The partitioned streams by the names handlers use: their keys sit under these names too. */
  partitioned(): string[] {
    return Object.keys(this.declarations.partitions());
  }
}
