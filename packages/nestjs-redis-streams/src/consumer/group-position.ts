import type { Logger } from '@nestjs/common';
import type { RedisClient } from '../redis/redis-connections.js';
import type { GroupStart } from '../interfaces/stream-handler.interface.js';
import { streamKeys } from '../stream-keys.js';
import { ENSURE_GROUP } from '../scripts/group-lifecycle.scripts.js';

/**
 * A consumer group's position as far as one consumer knows: the group's last-delivered-id when it
 * was ensured, then the last entry of each read. Creates the group unless it exists: the first
 * time where the handler asks (`startFrom`); once it vanished while running, at the position this
 * consumer knew, so that only what came after is delivered, not everything retained, which would
 * be replayed well past a receiver's dedup window.
 */
export class GroupPosition {
  private position?: string;

  constructor(
    private readonly stream: string,
    private readonly group: string,
    private readonly startFrom: GroupStart,
    private readonly logger: Logger,
  ) {}

  /** Whether the group has been ensured once (its housekeeping may run). */
  get known(): boolean {
    return this.position !== undefined;
  }

  /** The last entry a read delivered. */
  advance(id: string): void {
    this.position = id;
  }

  async ensure(redis: RedisClient): Promise<void> {
    const { stream, group, startFrom } = this;
    const recreating = this.position !== undefined;
    const start = this.position ?? (startFrom === 'new' ? '$' : '0');
    const [created, position] = await ENSURE_GROUP.run<[number, Buffer]>(
      redis,
      [stream, streamKeys.retries(stream, group), streamKeys.attempts(stream, group)],
      [group, start],
    );
    if (created === 1 && recreating) {
      this.logger.warn(
        `Created the vanished consumer group of ${stream} again, after entry ${start}`,
      );
    } else if (created === 1) {
      this.logger.log(
        `Created consumer group on ${stream}, starting at ${startFrom === 'new' ? 'new entries' : 'the beginning'}`,
      );
    }
    this.position = position.toString();
  }
}
