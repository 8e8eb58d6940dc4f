import type { AckBatcher } from './ack-batcher.js';
import type { RedisClient, RedisConnections } from '../redis/redis-connections.js';
import { fromTextReply, type RawEntry } from '../stream-codec.js';
import { settled, writeTogether } from '../publisher/write-together.js';
import type { Capacity } from './capacity.js';
import type { FlowGate } from './flow-gate.js';
import type { Acking } from './group-settler.js';
import type { ConsumerContext } from './consumer-definition.js';
import { GroupPosition } from './group-position.js';

/**
 * How long acknowledgements wait for the next read sent ahead to carry them: under load that read
 * leaves within a millisecond or two; when the stream is drained it may not leave until its BLOCK
 * ends, and the acknowledgements go out alone.
 */
export const ACK_HOLD_MS = 5;

/** A read on its way: until its reply is in, its entries count against the room for more. */
export interface SentRead {
  sentAt: number;
  /** The read's error or reply (never rejects). */
  reply: Promise<[Error | null, unknown]>;
  /** The group's flow state as Redis had it right after the read (HGETALL, never rejects). */
  flow: Promise<[Error | null, unknown]>;
}

/**
 * A group consumer's reads of new entries (XREADGROUP `>`) on a blocking connection of its own.
 * Queued acknowledgements ride on each read, in the same write (see AckBatcher). A read whose
 * reply never came (not even the end of its BLOCK) leaves a connection that is open but dead:
 * the reader opens a new one, and the caller learns that entries may have been delivered to it
 * unseen.
 */
export class GroupReader {
  readonly position: GroupPosition;
  private blocking?: RedisClient;

  constructor(
    private readonly context: ConsumerContext,
    private readonly connections: RedisConnections,
    private readonly acks: AckBatcher<Acking>,
    private readonly capacity: Capacity,
    private readonly gate: FlowGate,
  ) {
    const { stream, group, startFrom } = this.context.definition;
    this.position = new GroupPosition(stream, group, startFrom, this.context.logger);
  }

  open(): void {
    this.blocking = this.connections.createBlocking(
      `${this.context.definition.group}:reader`,
      this.context.definition.blockMs,
    );
  }

  /** Ends the read connection: a read blocked on it ends at once. */
  close(): void {
    if (this.blocking) this.connections.closeBlocking(this.blocking);
  }

  get ready(): boolean {
    return this.blocking!.status === 'ready';
  }

  /** Waits quietly for both connections while they come up, instead of failing the first read. */
  async whenReady(): Promise<void> {
    const waitMs = this.context.definition.blockMs + 1_000;
    if (this.blocking!.status !== 'ready') await this.connections.whenReady(this.blocking!, waitMs);
    const command = this.connections.command;
    if (command.status !== 'ready') await this.connections.whenReady(command, waitMs);
  }

  /** Sends one read of up to `count` entries, the queued acknowledgements ahead of it. */
  send(count: number): SentRead {
    const { stream, group, blockMs } = this.context.definition;
    const redis = this.blocking!;
    // Read as text, which costs less than bytes; see fromTextReply for values that are not.
    // The flow state follows the read on its connection: Redis answers it once the read is done,
    // so the entries are started, or held back, by the state of that moment.
    const [reply, flow] = writeTogether(redis, () => {
      this.acks.takeInto(redis, blockMs + 1_000);
      const read = redis.xreadgroup(
        'GROUP',
        group,
        this.context.runtime.consumerName,
        'COUNT',
        count,
        'BLOCK',
        blockMs,
        'STREAMS',
        stream,
        '>',
      );
      return [read, redis.hgetall(this.context.definition.flow.key)] as const;
    });
    return {
      sentAt: Date.now(),
      reply: this.capacity.request(count, settled(reply)),
      flow: settled(flow),
    };
  }

  /**
   * The entries a read delivered, or `lost` when its reply never came and the connection was
   * replaced. Throws the read's error.
   */
  async receive(read: SentRead): Promise<RawEntry[] | 'lost'> {
    const [error, reply] = await read.reply;
    if (error) throw error;
    const [flowError, flow] = await read.flow;
    if (!flowError) this.gate.observe(flow as Record<string, string>);
    const waitedMs = Date.now() - read.sentAt;
    if (reply === null && waitedMs >= this.context.definition.blockMs + 900) {
      // The client's own timeout ended the read: later replies on this connection would no
      // longer match their commands.
      this.context.logger.warn(
        `No answer from Redis on the read connection for ${waitedMs} ms; reconnecting it`,
      );
      this.blocking!.disconnect(true);
      return 'lost';
    }
    const entries: RawEntry[] = [];
    for (const [, items] of (reply ?? []) as Array<[string, unknown[]]>) {
      for (const item of items) {
        const entry = fromTextReply(item);
        if (entry) entries.push(entry);
      }
      if (items.length > 0) this.position.advance((items[items.length - 1] as [string])[0]);
    }
    return entries;
  }
}
