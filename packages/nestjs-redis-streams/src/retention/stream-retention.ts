import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { DEAD_LETTER_SUFFIX, DEFAULTS } from '../redis-streams.constants.js';
import { REDIS_STREAMS_OPTIONS } from '../redis-streams.module-definition.js';
import type {
  RedisStreamsModuleOptions,
  RetentionRule,
} from '../interfaces/redis-streams.options.js';
import { RedisConnections } from '../redis/redis-connections.js';
import { readRedisMemory, type RedisMemoryState } from '../redis/redis-memory.js';
import { RETENTION_TRIM } from '../scripts/retention-trim.script.js';
import { StreamDeclarations } from '../stream-declarations.js';
import { Ticker } from '../util/ticker.js';
import { assertValidName } from '../stream-keys.js';
import { compareStreamIds, nextStreamId } from '../stream-id.js';

/** The outcome of one retention run on one stream. */
export interface RetentionState {
  stream: string;
  /** Count cap; absent: none. */
  maxLen?: number;
  /** Age limit; absent: none. */
  maxAgeMs?: number;
  length: number;
  /** Redis's estimate of the stream's memory (`MEMORY USAGE`); absent when it could not be read. */
  bytes?: number;
  /** Id of the oldest entry kept; absent when the stream is empty. */
  oldestId?: string;
  /**
   * The stream keeps entries past its cap or older than its age limit, because some group has not
   * received and acknowledged them.
   */
  overCap: boolean;
  /** Groups that keep the oldest entry, when the stream is held over its limits. */
  heldBy: string[];
  trimmed: number;
  /** Why an operator should look at this stream; absent when all is well. */
  alarm?: string;
  checkedAt: string;
}

/**
 * Keeps streams within a count cap and an age limit without ever dropping an entry that some
 * consumer group has not yet received and acknowledged. Redis 7.0 trims by MAXLEN or MINID
 * blindly, so the bound is computed here: below every group's oldest pending entry and past no
 * group's last delivered id. When lagging groups hold a stream over its limits, that is raised as
 * an alarm, not fixed by deleting. Each run also measures the streams and Redis's memory, which is
 * what the storage alarms report.
 */
@Injectable()
export class StreamRetention implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('StreamRetention');
  private readonly states = new Map<string, RetentionState>();
  private memoryState?: RedisMemoryState;
  private ticker?: Ticker;
  private stopped = false;

  constructor(
    private readonly connections: RedisConnections,
    @Inject(REDIS_STREAMS_OPTIONS) private readonly options: RedisStreamsModuleOptions,
    private readonly declarations: StreamDeclarations,
  ) {}

  onApplicationBootstrap(): void {
    if (this.options.retentionEnabled === false) return;
    const rules = this.declarations.retention();
    if (rules.length === 0) return;
    for (const rule of rules) assertValidRule(rule);
    const interval = this.options.retentionIntervalMs ?? DEFAULTS.retentionIntervalMs;
    this.ticker = new Ticker(
      interval,
      async () => {
        await this.trimAll();
        await this.sampleMemory();
      },
      (error) => this.logger.warn(`Retention run failed: ${(error as Error).message}`),
    );
    this.ticker.start();
  }

  beforeApplicationShutdown(): void {
    this.stopped = true;
    this.ticker?.stop();
  }

  /** The last outcome per stream: what health and metrics report. */
  report(): RetentionState[] {
    return [...this.states.values()];
  }

  /** How full Redis was at the last run; absent before the first one or when it could not be read. */
  memory(): RedisMemoryState | undefined {
    return this.memoryState;
  }

  async trimAll(): Promise<RetentionState[]> {
    const results: RetentionState[] = [];
    for (const rule of this.declarations.retention()) {
      try {
        results.push(await this.trim(rule));
      } catch (error) {
        this.logger.warn(`Could not trim ${rule.stream}: ${(error as Error).message}`);
      }
    }
    return results;
  }

  async sampleMemory(): Promise<RedisMemoryState | undefined> {
    const previous = this.memoryState;
    try {
      this.memoryState = await readRedisMemory(this.connections.dataNodes());
    } catch (error) {
      this.logger.warn(`Could not read Redis memory use: ${(error as Error).message}`);
      this.memoryState = undefined;
      return undefined;
    }
    const warning = this.memoryState.warning;
    if (warning && warning !== previous?.warning) this.logger.warn(warning);
    else if (!warning && previous?.warning) this.logger.log('Redis memory use is back to normal');
    return this.memoryState;
  }

  async trim(rule: RetentionRule): Promise<RetentionState> {
    assertValidRule(rule);
    const { stream } = rule;
    const maxLen = rule.maxLen || 0;
    const maxAgeMs = rule.maxAgeMs || 0;
    const bounds = maxLen > 0 || maxAgeMs > 0 ? await this.groupBounds(stream) : [];
    const bound = bounds[0]?.minId;
    const ageMinId = maxAgeMs > 0 ? `${Math.max(0, Date.now() - maxAgeMs)}-0` : undefined;
    // The age limit stops at the bound too; the count cap is reached in steps.
    let minId = ageMinId && bound && compareStreamIds(bound, ageMinId) < 0 ? bound : ageMinId;
    let trimmed = 0;
    let step: TrimStep;
    do {
      step = await this.step(stream, minId, maxLen, bound);
      trimmed += step.trimmed;
      minId = undefined;
    } while (step.more && !this.stopped);
    const { length, oldestId } = step;
    const overCap =
      (maxLen > 0 && length > maxLen) ||
      (ageMinId !== undefined &&
        oldestId !== undefined &&
        compareStreamIds(oldestId, ageMinId) < 0);
    const heldBy =
      overCap && oldestId !== undefined
        ? bounds.filter((b) => compareStreamIds(b.minId, oldestId) <= 0).map((b) => b.group)
        : [];
    const state: RetentionState = {
      stream,
      ...(maxLen > 0 ? { maxLen } : {}),
      ...(maxAgeMs > 0 ? { maxAgeMs } : {}),
      length,
      ...(await this.bytesOf(stream)),
      ...(oldestId ? { oldestId } : {}),
      overCap,
      heldBy,
      trimmed,
      checkedAt: new Date().toISOString(),
    };
    const alarm = alarmOf(state, rule.alarmLength || 0);
    if (alarm) state.alarm = alarm;
    const previous = this.states.get(stream);
    if (alarm && !previous?.alarm) {
      this.logger.warn(alarm);
    } else if (!alarm && previous?.alarm) {
      this.logger.log(`Stream ${stream} is back within its limits`);
    }
    this.states.set(stream, state);
    return state;
  }

  private async step(
    stream: string,
    minId: string | undefined,
    maxLen: number,
    bound: string | undefined,
  ): Promise<TrimStep> {
    const [trimmed, length, oldest, more] = await RETENTION_TRIM.run<
      [number, number, Buffer | string, number]
    >(
      this.connections.command,
      [stream],
      [minId ?? '', maxLen, bound ?? '', DEFAULTS.retentionStepEntries],
    );
    const oldestId = String(oldest);
    return {
      trimmed: Number(trimmed),
      length: Number(length),
      oldestId: oldestId === '' ? undefined : oldestId,
      more: Number(more) === 1,
    };
  }

  /** Redis's estimate; a user whose ACL does not grant MEMORY USAGE still gets retention. */
  private async bytesOf(stream: string): Promise<{ bytes?: number }> {
    try {
      const bytes = await this.connections.command.memory('USAGE', stream);
      return typeof bytes === 'number' ? { bytes } : {};
    } catch {
      return {};
    }
  }

  /** Per group, the lowest id it still needs: its oldest pending entry or the entry after its last delivered one. */
  private async groupBounds(stream: string): Promise<Array<{ group: string; minId: string }>> {
    const redis = this.connections.command;
    let groups: unknown[][];
    try {
      groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
    } catch (error) {
      // No stream yet: nothing to trim and no group to protect.
      if (/no such key/i.test((error as Error).message)) return [];
      throw error;
    }
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

/** What one run of the retention script did. */
interface TrimStep {
  trimmed: number;
  length: number;
  oldestId?: string;
  /** More is past the count cap than one step takes. */
  more: boolean;
}

/** Why an operator should look at a stream after a run, if at all. */
function alarmOf(state: RetentionState, alarmLength: number): string | undefined {
  const alarms: string[] = [];
  if (state.overCap) {
    const limits = [
      ...(state.maxLen ? [`its cap of ${state.maxLen}`] : []),
      ...(state.maxAgeMs ? [`its age limit of ${state.maxAgeMs} ms`] : []),
    ].join(' and ');
    alarms.push(
      `${state.stream} holds ${state.length} entries past ${limits}: held by ${state.heldBy.join(', ')}, ` +
        'which have not received and acknowledged older entries; they are kept, not deleted',
    );
  }
  if (alarmLength > 0 && state.length >= alarmLength) {
    const deadLetters = state.stream.endsWith(DEAD_LETTER_SUFFIX);
    alarms.push(
      `${state.stream} holds ${state.length} ${deadLetters ? 'dead letters' : 'entries'} ` +
        `(alarm at ${alarmLength}${state.bytes !== undefined ? `, about ${state.bytes} bytes` : ''})` +
        (deadLetters ? ': replay or delete them' : ''),
    );
  }
  return alarms.length > 0 ? alarms.join('; ') : undefined;
}

function assertValidRule(rule: RetentionRule): void {
  assertValidName('stream', rule.stream);
  for (const key of ['maxLen', 'maxAgeMs', 'alarmLength'] as const) {
    const value = rule[key];
    if (value !== undefined && !(Number.isInteger(value) && value >= 0)) {
      throw new Error(
        `retention of "${rule.stream}": ${key} must be a whole number of at least 0, not ${String(value)}`,
      );
    }
  }
  if (rule.stream.endsWith(DEAD_LETTER_SUFFIX) && (rule.maxLen ?? 0) > 0) {
    throw new Error(
      `retention of "${rule.stream}": a dead-letter stream has no count cap (dead letters are kept ` +
        'until replayed or deleted); give it maxAgeMs to drop old ones',
    );
  }
}

function toRecord(flat: unknown[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = flat[i + 1];
  return record;
}
