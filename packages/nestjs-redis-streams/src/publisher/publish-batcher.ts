/** The events waiting for one stream (and one maxLen), with how to answer each caller. */
interface Queue<I, R> {
  stream: string;
  maxLen?: number;
  items: I[];
  callers: Array<{ resolve: (result: R) => void; reject: (error: unknown) => void }>;
}

/**
 * Gathers the `publish` calls made in one turn of the event loop (concurrent HTTP requests, say)
 * by the stream they go to, and sends each stream's events together: at the end of the turn, or
 * as soon as they fill one script call. Redis then runs one command per call, not one per event,
 * and each caller is still answered with its own event's outcome.
 */
export class PublishBatcher<I, R> {
  private readonly waiting = new Map<string, Queue<I, R>>();
  private flushScheduled = false;

  constructor(
    /**
     * Sends events to `stream`; answers each with its result or its Error, in order, and rejects
     * only when none of them could be confirmed.
     */
    private readonly send: (
      stream: string,
      maxLen: number | undefined,
      items: I[],
    ) => Promise<Array<R | Error>>,
    /** How many events one script call takes: a full queue leaves at once. */
    private readonly perCall: number,
  ) {}

  /** Resolves with the event's result once Redis has it; rejects with what kept it from Redis. */
  add(stream: string, maxLen: number | undefined, item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      // Events with another maxLen go in other calls: XADD takes one per call.
      const key = maxLen === undefined ? stream : `${stream}\u0000${maxLen}`;
      let queue = this.waiting.get(key);
      if (!queue) {
        queue = { stream, maxLen, items: [], callers: [] };
        this.waiting.set(key, queue);
      }
      queue.items.push(item);
      queue.callers.push({ resolve, reject });
      if (queue.items.length >= this.perCall) {
        this.waiting.delete(key);
        this.sendQueue(queue);
      } else if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const queues = [...this.waiting.values()];
    this.waiting.clear();
    for (const queue of queues) this.sendQueue(queue);
  }

  private sendQueue({ stream, maxLen, items, callers }: Queue<I, R>): void {
    this.send(stream, maxLen, items).then(
      (outcomes) =>
        outcomes.forEach((outcome, i) =>
          outcome instanceof Error ? callers[i].reject(outcome) : callers[i].resolve(outcome),
        ),
      (error: unknown) => callers.forEach((caller) => caller.reject(error)),
    );
  }
}
