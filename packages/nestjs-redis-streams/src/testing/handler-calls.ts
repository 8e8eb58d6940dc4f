import type { StreamEvents } from '../stream-events.js';
import type { AppStreams } from './app-streams.js';

/**
 * How one delivery ended. `handled`: the handler returned and the entry was acknowledged.
 * `failed`: it threw, and a retry is scheduled. `dead-lettered`: it failed for the last time (or
 * its payload was refused before the handler ran: not decodable, not valid for its DTO) and the
 * entry was moved to the dead-letter stream.
 */
export type HandlerOutcome = 'handled' | 'failed' | 'dead-lettered';

/** One delivery of one entry to one handler in this app, as the library reported it. */
export interface HandlerCall {
  /** The stream by the name handlers use (`orders`, not its partition `orders:{3}`). */
  stream: string;
  /** The handler's consumer group (by default `Class.method`). */
  group: string;
  /** The entry's id in its Redis stream. */
  id: string;
  eventId: string;
  /** 1 for the first attempt. */
  attempt: number;
  outcome: HandlerOutcome;
  /** Why it failed. */
  reason?: string;
  /** How long a handled call ran. */
  durationMs?: number;
}

/** What `TestStreams.calls()` can pick out; every field given must match. */
export type HandlerCallFilter = Partial<
  Pick<HandlerCall, 'stream' | 'group' | 'eventId' | 'outcome'>
>;

/**
 * Records the app's handler calls from its StreamEvents, in the order they ended. A call shows up
 * once its outcome is written to Redis (acknowledged, retry scheduled, dead-lettered). Idempotent
 * handlers that skip an event handled before report nothing: the handler did not run.
 */
export class HandlerCalls {
  private readonly recorded: HandlerCall[] = [];
  private readonly unsubscribe: () => void;

  constructor(events: StreamEvents, streams: AppStreams) {
    const stream = (redisStream: string): string => streams.named(redisStream).stream;
    this.unsubscribe = events.subscribe({
      handled: ({ group, id, eventId, attempt, durationMs, ...event }) => {
        this.recorded.push({
          stream: stream(event.stream),
          group,
          id,
          eventId,
          attempt,
          outcome: 'handled',
          durationMs,
        });
      },
      // `failed` comes for every failed attempt, last ones included: deadLettered would repeat it.
      failed: ({ group, id, eventId, attempt, retrying, reason, ...event }) => {
        const outcome = retrying ? 'failed' : 'dead-lettered';
        this.recorded.push({
          stream: stream(event.stream),
          group,
          id,
          eventId,
          attempt,
          outcome,
          reason,
        });
      },
    });
  }

  list(filter: HandlerCallFilter = {}): HandlerCall[] {
    const wanted = Object.entries(filter).filter(([, value]) => value !== undefined);
    return this.recorded.filter((call) =>
      wanted.every(([name, value]) => call[name as keyof HandlerCall] === value),
    );
  }

  /** Forgets what was recorded so far. */
  clear(): void {
    this.recorded.length = 0;
  }

  stop(): void {
    this.unsubscribe();
  }
}
