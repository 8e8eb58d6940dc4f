import { Injectable } from '@nestjs/common';
import { INSPECTION } from '../redis-streams.constants.js';
import { RedisConnections } from '../redis/redis-connections.js';
import { assertStreamId, compareStreamIds } from '../stream-id.js';
import {
  StreamInspector,
  type DeadLetter,
  type DeadLetterFilter,
  type Page,
} from './stream-inspector.js';
import { streamKeys } from '../stream-keys.js';
import { REPLAY_DEAD_LETTERS } from '../scripts/dead-letter-replay.script.js';

export interface ReplayResult {
  replayed: Array<{ deadLetterId: string; newId: string }>;
  /** Ids that were not (or no longer) in the dead-letter stream. */
  missing: string[];
}

/**
 * Repair dead letters, for operators (admin API, dashboard, CLI): replay them to the stream they
 * came from, or delete them. `StreamInspector` lists them; like it, this names only streams that
 * some `@StreamHandler` consumes.
 */
@Injectable()
export class DeadLetters {
  constructor(
    private readonly connections: RedisConnections,
    private readonly inspector: StreamInspector,
  ) {}

  /** Replays the given dead letters to their stream; each is appended once however often this runs. */
  async replay(stream: string, ids: string[]): Promise<ReplayResult> {
    this.inspector.assertKnown(stream);
    const result: ReplayResult = { replayed: [], missing: [] };
    const unique = [...new Set(ids.map(assertStreamId))];
    for (let i = 0; i < unique.length; i += INSPECTION.replayChunk) {
      const chunk = unique.slice(i, i + INSPECTION.replayChunk);
      const newIds = await REPLAY_DEAD_LETTERS.run<Array<Buffer | null>>(
        this.connections.command,
        [streamKeys.deadLetter(stream), stream],
        chunk,
      );
      chunk.forEach((id, j) => {
        const newId = newIds[j];
        if (newId) result.replayed.push({ deadLetterId: id, newId: newId.toString() });
        else result.missing.push(id);
      });
    }
    return result;
  }

  /** Replays every dead letter that matches the filter, oldest first, at most `limit` of them. */
  async replayMatching(
    stream: string,
    filter: DeadLetterFilter,
    limit = 1_000,
  ): Promise<ReplayResult> {
    const ids: string[] = [];
    let cursor: string | undefined = '+';
    while (cursor && ids.length < limit) {
      const page: Page<DeadLetter> = await this.inspector.deadLetters(
        stream,
        cursor,
        INSPECTION.maxPage,
        filter,
      );
      ids.push(...page.items.map((letter) => letter.id));
      cursor = page.next;
    }
    return this.replay(stream, ids.slice(0, limit).sort(compareStreamIds));
  }

  /** Deletes dead letters for good; returns how many were there. */
  async delete(stream: string, ids: string[]): Promise<number> {
    this.inspector.assertKnown(stream);
    if (ids.length === 0) return 0;
    return this.connections.command.xdel(streamKeys.deadLetter(stream), ...ids.map(assertStreamId));
  }
}
