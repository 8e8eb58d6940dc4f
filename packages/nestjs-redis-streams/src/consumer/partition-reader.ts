import type { RedisClient, RedisConnections } from '../redis/redis-connections.js';
import { fromTextReply, toRawEntry, type RawEntry } from '../stream-codec.js';
import { TAKE_OVER_PENDING } from '../scripts/fenced.scripts.js';
import { settled, writeTogether } from '../publisher/write-together.js';
import type { ConsumerContext } from './consumer-definition.js';
import { GroupPosition } from './group-position.js';

/** An entry to handle, and the attempt it is at. */
export interface Claimed {
  entry: RawEntry;
  attempt: number;
}

/**
 * Reads one partition of an ordered group for its lease holder, oldest first: first it takes over
 * whatever is pending (left by earlier owners, or by reads whose replies were lost), then it reads
 * new entries. Each read carries an XPENDING check on the same connection, so an entry delivered
 * by a read whose reply was lost is noticed at the next read, and taken over before anything newer.
 */
export class PartitionReader {
  readonly position: GroupPosition;
  private blocking?: RedisClient;
  /** Until this owner has claimed something: the oldest pending entry may have been running. */
  private firstClaim = true;

  constructor(
    private readonly context: ConsumerContext,
    private readonly connections: RedisConnections,
    private readonly stream: string,
    private readonly partition: number,
    private readonly leaseKey: string,
    private readonly holder: string,
  ) {
    const { group, startFrom } = this.context.definition;
    this.position = new GroupPosition(stream, group, startFrom, this.context.logger);
  }

  open(): void {
    this.blocking = this.connections.createBlocking(
      `${this.context.definition.group}:p${this.partition}`,
      this.context.definition.blockMs,
    );
  }

  close(): void {
    if (this.blocking) this.connections.closeBlocking(this.blocking);
  }

  /**
   * Claims the oldest pending entries of the group, whoever has them; null when the lease is no
   * longer ours. `drained` once nothing is pending any more; a call may claim nothing and still
   * not be drained (every id it looked at had been deleted from the stream), and is then made again.
   */
  async takeOverPending(): Promise<{ entries: Claimed[]; drained: boolean } | null> {
    const reply = await TAKE_OVER_PENDING.run<[unknown[], number[], Buffer[], number] | number>(
      this.connections.command,
      [this.stream, this.leaseKey],
      [
        this.context.definition.group,
        this.context.runtime.consumerName,
        this.holder,
        this.context.definition.batchSize,
      ],
    );
    if (typeof reply === 'number') return null;
    const [claimed, deliveries, gone, drained] = reply;
    if (gone.length > 0) {
      this.context.logger.warn(
        `Dropped ${gone.length} pending entries of partition ${this.partition} that were deleted from the stream: ${gone.join(', ')}`,
      );
    }
    const entries: Claimed[] = [];
    claimed.forEach((item, i) => {
      const entry = toRawEntry(item);
      if (!entry) return;
      // Entries are handled one after the other: of what a former owner left pending, only the
      // oldest can have been running when it stopped, and that delivery counts as an attempt.
      // Everything else (later entries of its batch, reads whose replies were lost) never ran.
      const mayHaveRun = this.firstClaim && entries.length === 0;
      entries.push({ entry, attempt: mayHaveRun ? Number(deliveries[i]) + 1 : 1 });
    });
    if (entries.length > 0 || Number(drained) === 1) this.firstClaim = false;
    return { entries, drained: Number(drained) === 1 };
  }

  /**
   * Reads new entries. `stranded` when entries other than this read's are pending: a read whose
   * reply was lost (here, or of a former owner, reaching Redis late) delivered them to nobody who
   * handles them; they and this read's entries are then taken over, in order.
   */
  async readNew(): Promise<{ entries: Claimed[]; stranded: boolean }> {
    const { group, blockMs, batchSize } = this.context.definition;
    const reader = this.blocking!;
    if (reader.status !== 'ready') await this.connections.whenReady(reader, blockMs + 1_000);
    const sentAt = Date.now();
    // The pending summary goes on the same connection, so Redis answers it right after the read.
    const [read, pending] = writeTogether(reader, () => [
      settled(
        reader.xreadgroup(
          'GROUP',
          group,
          this.context.runtime.consumerName,
          'COUNT',
          batchSize,
          'BLOCK',
          blockMs,
          'STREAMS',
          this.stream,
          '>',
        ),
      ),
      settled(reader.xpending(this.stream, group)),
    ]);
    const [readError, reply] = await read;
    if (readError) {
      // Not a reply of Redis: whether the read reached Redis is unknown, and a late reply on this
      // connection would answer the next command. Start from a new connection.
      if (readError.name !== 'ReplyError') this.reset(readError.message);
      throw readError;
    }
    if (reply === null && Date.now() - sentAt >= blockMs + 900) {
      // Not even the end of the BLOCK came back: the client's own timeout ended the read. Redis
      // may still run it and deliver entries that nobody receives.
      this.reset(`no answer for ${Date.now() - sentAt} ms`);
      return { entries: [], stranded: true };
    }
    const [pendingError, summary] = await pending;
    if (pendingError) throw pendingError;
    const items = ((reply ?? []) as Array<[string, unknown[]]>).flatMap(([, entries]) => entries);
    if (Number((summary as [number])[0]) > items.length) {
      this.context.logger.warn(
        `Partition ${this.partition} has pending entries that no read of this owner returned; taking them over first`,
      );
      return { entries: [], stranded: true };
    }
    const entries: Claimed[] = [];
    for (const item of items) {
      const entry = fromTextReply(item);
      if (entry) entries.push({ entry, attempt: 1 });
    }
    if (items.length > 0) this.position.advance((items[items.length - 1] as [string])[0]);
    return { entries, stranded: false };
  }

  /** Replaces a read connection that may be dead or out of step with a new one. */
  private reset(why: string): void {
    const reader = this.blocking;
    if (!reader || reader.status !== 'ready') return;
    this.context.logger.warn(
      `Read connection of partition ${this.partition}: ${why}; reconnecting it`,
    );
    reader.disconnect(true);
  }
}
