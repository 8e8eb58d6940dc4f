import { Injectable } from '@nestjs/common';
import { RedisConnections } from './redis/redis-connections.js';
import { FLOW_STATE } from './scripts/flow.scripts.js';
import { streamKeys } from './stream-keys.js';

/** A group's flow state as every instance sees it. */
export interface FlowState {
  /** Paused by hand (admin API, CLI, dashboard): nothing starts until resumed. */
  paused: boolean;
  /** The destination said it is busy: no call starts until then (ISO 8601). */
  busyUntil?: string;
  /** `open`: the destination is taken to be down, only probe calls go out. */
  circuit: 'closed' | 'open';
  /** While open: when the next probe may go (ISO 8601). */
  nextProbeAt?: string;
  /** Calls of different entries that failed in a row. */
  failureStreak: number;
  /** After busy signals: the calls per second the group resumes at, growing while all is well. */
  resumeRate?: number;
}

/** Reads a FLOW_STATE reply: the server's time and the hash's fields. */
export function parseFlowState(reply: unknown): {
  now: number;
  state: FlowState;
  /** Server times (ms), 0 when unset. */
  busyUntil: number;
  openUntil: number;
} {
  const [now, ...pairs] = reply as [number, ...Array<string | Buffer>];
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < pairs.length; i += 2) fields.set(String(pairs[i]), String(pairs[i + 1]));
  const time = (name: string): number => Number(fields.get(name) ?? 0);
  const busyUntil = time('busyUntil');
  const openUntil = time('openUntil');
  return {
    now: Number(now),
    busyUntil,
    openUntil,
    state: {
      paused: fields.get('paused') === '1',
      busyUntil: busyUntil > Number(now) ? new Date(busyUntil).toISOString() : undefined,
      circuit: openUntil > 0 ? 'open' : 'closed',
      nextProbeAt: openUntil > 0 ? new Date(openUntil).toISOString() : undefined,
      failureStreak: time('streak'),
      resumeRate: time('rate') > 0 ? Math.round(time('rate') * 10) / 10 : undefined,
    },
  };
}

/**
 * Pauses and resumes consumer groups by hand, and reads their flow state. The state is in Redis:
 * every instance of the group obeys it within a maintenance tick, and it survives restarts. A
 * paused group reads nothing and starts nothing; entries it holds stay pending and leased.
 */
@Injectable()
export class FlowControl {
  constructor(private readonly connections: RedisConnections) {}

  async pause(stream: string, group: string): Promise<void> {
    await this.connections.command.hset(streamKeys.flow(stream, group), 'paused', '1');
  }

  async resume(stream: string, group: string): Promise<void> {
    await this.connections.command.hdel(streamKeys.flow(stream, group), 'paused');
  }

  async state(stream: string, group: string): Promise<FlowState> {
    const reply = await FLOW_STATE.run(
      this.connections.command,
      [streamKeys.flow(stream, group)],
      [],
    );
    return parseFlowState(reply).state;
  }
}
