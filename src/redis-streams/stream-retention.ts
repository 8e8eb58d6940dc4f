import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { DEFAULTS } from './redis-streams.constants.js';
import { REDIS_STREAMS_OPTIONS } from './redis-streams.module-definition.js';
import type { RedisStreamsModuleOptions } from './redis-streams.options.js';
import { RedisConnections } from './redis-connections.js';
import { assertValidName } from './stream-keys.js';
import { compareStreamIds, nextStreamId } from './stream-id.js';

/** The outcome of one trim of one stream. */
export interface RetentionState {
  stream: string;
  maxLen: number;
  length: number;
  /** The stream is over its cap because some group has not received and acknowledged older entries. */
  overCap: boolean;
  /** Groups that hold entries back, oldest first. */
  heldBy: string[];
  trimmed: number;
  checkedAt: string;
}

/**
 * Trims streams to a size cap without ever dropping an entry that some consumer group has not yet
 * received and acknowledged. Redis 7.0 trims by MAXLEN or MINID blindly, so the safe MINID is
 * computed here: below every group's oldest pending entry and past no group's last delivered id.
 * When lagging groups keep a stream over its cap, that is raised as an alarm, not fixed by deleting.
 */
@Injectable()
export class StreamRetention implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('StreamRetention');
  private readonly states = new Map<string, RetentionState>();
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly connections: RedisConnections,
    @Inject(REDIS_STREAMS_OPTIONS) private readonly options: RedisStreamsModuleOptions,
  ) {}

  onApplicationBootstrap(): void {
    const rules = this.options.retention ?? [];
    if (rules.length === 0) return;
    for (const rule of rules) assertValidName('stream', rule.stream);
    const interval = this.options.retentionIntervalMs ?? DEFAULTS.retentionIntervalMs;
    const tick = async (): Promise<void> => {
      await this.trimAll();
      if (!this.stopped) this.timer = setTimeout(tick, interval);
    };
    this.timer = setTimeout(tick, interval);
  }

  beforeApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** The last outcome per stream: what health and metrics report. */
  report(): RetentionState[] {
    return [...this.states.values()];
  }

  async trimAll(): Promise<RetentionState[]> {
    const results: RetentionState[] = [];
    for (const { stream, maxLen } of this.options.retention ?? []) {
      try {
        results.push(await this.trim(stream, maxLen));
      } catch (error) {
        this.logger.warn(`Could not trim ${stream}: ${(error as Error).message}`);
      }
    }
    return results;
  }

  async trim(stream: string, maxLen: number): Promise<RetentionState> {
    const redis = this.connections.command;
    const length = await redis.xlen(stream);
    let trimmed = 0;
    let heldBy: string[] = [];
    if (length > maxLen) {
      // The oldest entry the cap would keep: everything older may go, if every group is done with it.
      const newest = (await redis.xrevrange(stream, '+', '-', 'COUNT', maxLen)) as Array<
        [string, string[]]
      >;
      const capMinId = newest[newest.length - 1][0];
      const bounds = await this.groupBounds(stream);
      let minId = capMinId;
      for (const bound of bounds) {
        if (compareStreamIds(bound.minId, minId) < 0) minId = bound.minId;
      }
      heldBy = bounds.filter((b) => compareStreamIds(b.minId, capMinId) < 0).map((b) => b.group);
      trimmed = Number(await redis.xtrim(stream, 'MINID', minId));
    }
    const after = length - trimmed;
    const state: RetentionState = {
      stream,
      maxLen,
      length: after,
      overCap: after > maxLen,
      heldBy,
      trimmed,
      checkedAt: new Date().toISOString(),
    };
    const previous = this.states.get(stream);
    if (state.overCap && !previous?.overCap) {
      this.logger.warn(
        `Stream ${stream} holds ${after} entries, over its cap of ${maxLen}, because group(s) ${heldBy.join(', ')} ` +
          'have not received and acknowledged older entries; they are kept, not deleted',
      );
    } else if (!state.overCap && previous?.overCap) {
      this.logger.log(`Stream ${stream} is back within its cap of ${maxLen}`);
    }
    this.states.set(stream, state);
    return state;
  }

  /** Per group, the lowest id it still needs: its oldest pending entry or the entry after its last delivered one. */
  private async groupBounds(stream: string): Promise<Array<{ group: string; minId: string }>> {
    const redis = this.connections.command;
    const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
    const bounds: Array<{ group: string; minId: string }> = [];
    for (const flat of groups) {
      const info = toRecord(flat);
      const group = String(info.name);
      let minId = nextStreamId(String(info['last-delivered-id']));
      if (Number(info.pending) > 0) {
        const [, oldestPending] = (await redis.xpending(stream, group)) as [number, string | null];
        if (oldestPending && compareStreamIds(oldestPending, minId) < 0) minId = oldestPending;
      }
      bounds.push({ group, minId });
    }
    return bounds.sort((a, b) => compareStreamIds(a.minId, b.minId));
  }
}

function toRecord(flat: unknown[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = flat[i + 1];
  return record;
}
