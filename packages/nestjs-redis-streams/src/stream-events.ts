import { Injectable, Logger } from '@nestjs/common';

export interface GroupEvent {
  stream: string;
  group: string;
}

/** What happened to one delivery of one entry. */
export interface EntryEvent extends GroupEvent {
  /** The entry's id in the stream. */
  id: string;
  eventId: string;
  /** 1 for the first attempt. */
  attempt: number;
}

/** One handled-and-acknowledged entry. */
export interface HandledEvent extends EntryEvent {
  /** How long the handler ran. */
  durationMs: number;
  /** From the time in the entry id (when Redis appended it) to the acknowledgement. */
  latencyMs: number;
}

/** An entry that failed for good: copied to the dead-letter stream and acknowledged. */
export interface DeadLetteredEvent extends EntryEvent {
  /** Why, as the dead letter records it. */
  reason: string;
}

/** A failed attempt; `retrying` says whether a retry was scheduled, else it is dead-lettered. */
export interface FailedEvent extends EntryEvent {
  retrying: boolean;
  /** Why it failed: the error, as the log and the dead letter give it. */
  reason: string;
}

/**
 * Hooks into the library's hot path for metrics and the like. Listeners run synchronously and
 * must be cheap (increment a counter); one that throws is logged and does not disturb processing.
 */
export interface StreamEventListener {
  published?(event: { stream: string; count: number; duplicates: number }): void;
  handled?(event: HandledEvent): void;
  /** A handler attempt failed; `retrying` says whether a retry was scheduled. */
  failed?(event: FailedEvent): void;
  /** Due retries taken up again. */
  retried?(event: GroupEvent & { count: number }): void;
  /** Entries claimed from consumers that stopped. */
  reclaimed?(event: GroupEvent & { count: number }): void;
  deadLettered?(event: DeadLetteredEvent): void;
  /**
   * Redis failed a call made for an entry (full, read-only, unreachable, too slow), the library's
   * own or a handler's: the entry stays pending, no attempt is spent, and it is tried again later.
   */
  infrastructureFailed?(event: GroupEvent): void;
}

type Hook = keyof StreamEventListener;
type Payload<K extends Hook> = Parameters<NonNullable<StreamEventListener[K]>>[0];

/** Where listeners subscribe and the library reports what happens. */
@Injectable()
export class StreamEvents {
  private readonly logger = new Logger('StreamEvents');
  private listeners: StreamEventListener[] = [];

  /** Returns a function that unsubscribes. */
  subscribe(listener: StreamEventListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  emit<K extends Hook>(hook: K, event: Payload<K>): void {
    for (const listener of this.listeners) {
      const fn = listener[hook] as ((e: Payload<K>) => void) | undefined;
      if (!fn) continue;
      try {
        fn.call(listener, event);
      } catch (error) {
        this.logger.warn(`A ${hook} listener failed: ${(error as Error).message}`);
      }
    }
  }
}
