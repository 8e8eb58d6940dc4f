import type { Redis } from 'ioredis';

interface Waiter {
  id: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Acknowledges entries of one group in batches: ids whose handlers finish in the same turn of the
 * event loop go out as one `XACK stream group id id ...` instead of one command each. Each caller
 * still learns whether its own entry was acknowledged, so an entry is never reported done before
 * Redis has the acknowledgement.
 */
export class AckBatcher {
  private queue: Waiter[] = [];
  private scheduled = false;

  constructor(
    private readonly redis: () => Redis,
    private readonly stream: string,
    private readonly group: string,
    private readonly maxBatch = 500,
  ) {}

  ack(id: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ id, resolve, reject });
      if (this.queue.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue.splice(0, this.queue.length);
    if (batch.length === 0) return;
    this.redis()
      .xack(this.stream, this.group, ...batch.map((w) => w.id))
      .then(
        () => batch.forEach((w) => w.resolve()),
        (error: unknown) => batch.forEach((w) => w.reject(error)),
      );
  }
}
