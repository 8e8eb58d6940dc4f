import type { Delivery } from './own-pending.js';

/**
 * The one owner of a group consumer's slot counts. A slot is a handler call that may run now:
 * `concurrency` of them. Entries are, in turn:
 * - requested: asked for by a read whose reply is not in yet;
 * - held: pending under this consumer and not started (read ahead with `prefetch`, or taken back
 *   and waiting for a slot);
 * - reserved: slots kept free for due retries and abandoned work while they are being claimed;
 * - owned: started and not finished (running, or acknowledging);
 * - acking: owned entries whose handler has finished and whose acknowledgement is on its way.
 * Whoever waits for room is woken on every release and checks again.
 */
export class Capacity {
  /** Entry ids started here and not finished. */
  readonly owned = new Set<string>();
  /** Entries not started yet, oldest first. */
  readonly held: Delivery[] = [];
  private acking = 0;
  private reserved = 0;
  private requested = 0;
  private waiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly prefetch: number,
    /** How many calls may run at once now, out of `concurrency` (see FlowGate). */
    private readonly limit: (concurrency: number) => number = (all) => all,
  ) {}

  /**
   * Slots neither running a handler nor reserved for old work being taken. Entries waiting only
   * for their acknowledgement hold no slot, up to one batch of `concurrency` of them, which bounds
   * what is held in memory at twice `concurrency`.
   */
  available(): number {
    const limit = this.limit(this.concurrency);
    return limit - this.owned.size + Math.min(this.acking, limit) - this.reserved;
  }

  /**
   * How many entries a read may take now: free slots, plus room left for reading ahead.
   * Everything held (running, reserved, read ahead) stays within concurrency + prefetch.
   */
  room(): number {
    // Held back (paused, busy, circuit open): nothing is read ahead either.
    if (this.limit(this.concurrency) === 0) return 0;
    return this.available() + this.prefetch - this.held.length - this.requested;
  }

  /** Whether a read may take `minimum` entries now, or some while nothing runs. */
  hasRoom(minimum: number): boolean {
    const room = this.room();
    return room >= minimum || (this.owned.size === 0 && room > 0);
  }

  /** Resolves once a read may take `minimum` entries, or when `stopping()` turns true. */
  async waitForRoom(minimum: number, stopping: () => boolean): Promise<void> {
    while (!this.hasRoom(minimum) && !stopping()) await this.nextRelease();
  }

  /** Resolves once a slot is free (or nothing runs), or when `stopping()` turns true. */
  async waitForSlot(stopping: () => boolean): Promise<void> {
    const free = (): boolean =>
      this.available() >= 1 || (this.owned.size === 0 && this.available() > 0);
    while (!free() && !stopping()) await this.nextRelease();
  }

  /** Marks the entry started; false when it already runs here. */
  start(id: string): boolean {
    if (this.owned.has(id)) return false;
    this.owned.add(id);
    return true;
  }

  /** The handler finished: its slot is free while its acknowledgement goes out. */
  handlerDone(): void {
    this.acking += 1;
    this.release();
  }

  /** The acknowledgement of an entry whose handler finished went through, or was given up. */
  ackDone(): void {
    this.acking -= 1;
  }

  /** The entry is finished here, settled or left pending. */
  finish(id: string): void {
    this.owned.delete(id);
    this.release();
    if (this.owned.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves once nothing is owned. */
  whenIdle(): Promise<void> {
    if (this.owned.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Reserves up to `count` slots while `take` runs; `take` starts entries into them. */
  async withReserved(count: number, take: (free: number) => Promise<void>): Promise<void> {
    if (count <= 0) return;
    this.reserved += count;
    try {
      await take(count);
    } finally {
      this.reserved -= count;
      // Slots not used are free again.
      this.release();
    }
  }

  /** Counts `count` entries as asked for until `reply` settles. */
  request<T>(count: number, reply: Promise<T>): Promise<T> {
    this.requested += count;
    return reply.finally(() => {
      this.requested -= count;
      this.release();
    });
  }

  /** Wakes everyone waiting for room (a slot was freed, or the consumer stops). */
  release(): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private nextRelease(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
