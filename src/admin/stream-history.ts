import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import {
  StreamEvents,
  StreamInspector,
  type GroupEvent,
  type StreamInfo,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { HISTORY } from './admin.constants.js';

/** One consumer group at one moment, with what this instance did for it since the sample before. */
export interface GroupSample {
  group: string;
  /** From Redis, for all instances; null when Redis could not tell or did not answer. */
  lag: number | null;
  pending: number | null;
  /** Entries this instance handled and acknowledged since the previous sample. */
  handled: number;
  /** Failed attempts in this instance since the previous sample (retried or not). */
  failed: number;
  deadLettered: number;
}

export interface StreamSample {
  stream: string;
  /** Null when Redis did not answer. */
  length: number | null;
  deadLetters: number | null;
  /** Entries this instance published since the previous sample (duplicates not counted). */
  published: number;
  groups: GroupSample[];
}

export interface HistorySample {
  /** Milliseconds since the epoch. */
  at: number;
  streams: StreamSample[];
}

export interface History {
  intervalMs: number;
  /** Oldest first, at most `HISTORY.samples`. */
  samples: HistorySample[];
}

type GroupCounts = Pick<GroupSample, 'handled' | 'failed' | 'deadLettered'>;

/** What happened since the last sample, counted from the library's events. */
class Counts {
  readonly published = new Map<string, number>();
  readonly groups = new Map<string, Map<string, GroupCounts>>();

  group({ stream, group }: GroupEvent): GroupCounts {
    let byGroup = this.groups.get(stream);
    if (!byGroup) this.groups.set(stream, (byGroup = new Map()));
    let counts = byGroup.get(group);
    if (!counts) byGroup.set(group, (counts = { handled: 0, failed: 0, deadLettered: 0 }));
    return counts;
  }
}

/**
 * A short in-memory history of the handled streams for the dashboard's charts: every
 * `HISTORY.intervalMs`, lag, pending and lengths from Redis (the whole deployment), and the entries
 * this instance published, handled, failed and dead-lettered since the sample before. Kept in the
 * service rather than in the page, so that a freshly opened dashboard shows the last minutes.
 */
@Injectable()
export class StreamHistory implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(StreamHistory.name);
  private readonly samples: HistorySample[] = [];
  private counts = new Counts();
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private sampling = false;
  private lastError = '';

  constructor(
    private readonly inspector: StreamInspector,
    private readonly events: StreamEvents,
  ) {}

  onApplicationBootstrap(): void {
    this.unsubscribe = this.events.subscribe({
      published: ({ stream, count, duplicates }) =>
        this.counts.published.set(
          stream,
          (this.counts.published.get(stream) ?? 0) + count - duplicates,
        ),
      handled: (event) => void this.counts.group(event).handled++,
      failed: (event) => void this.counts.group(event).failed++,
      deadLettered: (event) => void this.counts.group(event).deadLettered++,
    });
    this.timer = setInterval(() => void this.sample(), HISTORY.intervalMs);
    // Sampling must never keep the process (or a test run) alive.
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    this.unsubscribe?.();
  }

  history(): History {
    return { intervalMs: HISTORY.intervalMs, samples: [...this.samples] };
  }

  /**
   * Takes one sample. Never throws and never overlaps itself: every Redis command it sends is
   * bounded by the connection's command timeout, and a call that finds one still running, or comes
   * within `HISTORY.minSpacingMs` of the last, is skipped (its counts go into the next sample).
   */
  async sample(): Promise<void> {
    const last = this.samples[this.samples.length - 1];
    if (this.sampling || (last && Date.now() - last.at < HISTORY.minSpacingMs)) return;
    this.sampling = true;
    try {
      const counts = this.counts;
      this.counts = new Counts();
      const infos = await this.readStreams();
      const at = Date.now();
      const streams = this.inspector
        .knownStreams()
        .map((stream) => toSample(stream, infos?.get(stream), counts));
      this.samples.push({ at, streams });
      if (this.samples.length > HISTORY.samples) this.samples.shift();
    } finally {
      this.sampling = false;
    }
  }

  private async readStreams(): Promise<Map<string, StreamInfo> | undefined> {
    try {
      const infos = await this.inspector.streams();
      this.lastError = '';
      return new Map(infos.map((info) => [info.stream, info]));
    } catch (error) {
      // Readiness reports Redis outages; here a gap in the charts is all it costs.
      const message = (error as Error).message;
      if (message !== this.lastError) this.logger.debug(`No history sample: ${message}`);
      this.lastError = message;
      return undefined;
    }
  }
}

function toSample(stream: string, info: StreamInfo | undefined, counts: Counts): StreamSample {
  const counted = counts.groups.get(stream) ?? new Map<string, GroupCounts>();
  const names = new Set([...(info?.groups.map((g) => g.name) ?? []), ...counted.keys()]);
  const groups = [...names].sort().map((group) => {
    const fromRedis = info?.groups.find((g) => g.name === group);
    return {
      group,
      lag: fromRedis?.lag ?? null,
      pending: fromRedis?.pending ?? null,
      handled: 0,
      failed: 0,
      deadLettered: 0,
      ...counted.get(group),
    };
  });
  return {
    stream,
    length: info?.length ?? null,
    deadLetters: info?.deadLetter.length ?? null,
    published: counts.published.get(stream) ?? 0,
    groups,
  };
}
