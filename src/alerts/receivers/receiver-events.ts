import { Injectable } from '@nestjs/common';

/** What a receiver's group did with one alert, beside what the stream library reports. */
export interface ReceiverActivityListener {
  /** The receiver answered 2xx (or, without a URL, the alert was logged). */
  delivered?(receiver: string): void;
  /** The receiver's matchers did not take the alert: acknowledged without a call. */
  skipped?(receiver: string): void;
  /** No receiver takes the alert (counted once, by the recorder). */
  unrouted?(): void;
}

/**
 * A small in-process publish/subscribe of receiver activity, as the library's `StreamEvents` is
 * for streams: delivery reports what happened, and whoever counts (metrics) subscribes.
 */
@Injectable()
export class ReceiverEvents {
  private readonly listeners = new Set<ReceiverActivityListener>();

  /** Returns the unsubscribe function. */
  subscribe(listener: ReceiverActivityListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  delivered(receiver: string): void {
    for (const listener of this.listeners) listener.delivered?.(receiver);
  }

  skipped(receiver: string): void {
    for (const listener of this.listeners) listener.skipped?.(receiver);
  }

  unrouted(): void {
    for (const listener of this.listeners) listener.unrouted?.();
  }
}
