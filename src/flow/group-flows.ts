import { Injectable } from '@nestjs/common';
import {
  FlowControl,
  RedisStreamsStatus,
  StreamInspector,
  type FlowState,
  type GroupInfo,
  type StreamInfo,
} from '@redis-streams-alerts/nestjs-redis-streams';

/** A consumer group that no handler of this service consumes: it cannot be paused from here. */
export class UnknownGroupError extends Error {
  constructor(stream: string, group: string, handled: readonly string[]) {
    super(
      `No handler of this service consumes stream "${stream.slice(0, 200)}" as group ` +
        `"${group.slice(0, 200)}"; its groups are ${handled.join(', ') || 'none'}`,
    );
    this.name = 'UnknownGroupError';
  }
}

/** The flow state of one group, named. */
export interface GroupFlow extends FlowState {
  stream: string;
  group: string;
}

/** A group as the inspector shows it, with its flow state when this service handles it. */
export type GroupWithFlow = GroupInfo & { flow?: FlowState };
export type StreamWithFlows = Omit<StreamInfo, 'groups'> & { groups: GroupWithFlow[] };

/**
 * Pause, resume and flow state of the consumer groups this service handles, for every operator
 * surface (admin API, dashboard, CLI, metrics, readiness). Only a group that a handler consumes
 * can be paused: a typo must not write a key that nothing reads. The state is the library's
 * `FlowControl`, in Redis, so every instance obeys it and it survives restarts.
 */
@Injectable()
export class GroupFlows {
  constructor(
    private readonly flowControl: FlowControl,
    private readonly status: RedisStreamsStatus,
    private readonly inspector: StreamInspector,
  ) {}

  /** Stops the group on every instance: nothing new starts until it is resumed. */
  async pause(stream: string, group: string): Promise<FlowState> {
    this.assertHandled(stream, group);
    await this.flowControl.pause(stream, group);
    return this.flowControl.state(stream, group);
  }

  async resume(stream: string, group: string): Promise<FlowState> {
    this.assertHandled(stream, group);
    await this.flowControl.resume(stream, group);
    return this.flowControl.state(stream, group);
  }

  async state(stream: string, group: string): Promise<FlowState> {
    this.assertHandled(stream, group);
    return this.flowControl.state(stream, group);
  }

  /** Every handled group with its flow state, in the order of `handled()`. */
  all(): Promise<GroupFlow[]> {
    return Promise.all(
      this.handled().map(async ({ stream, group }) => ({
        stream,
        group,
        ...(await this.flowControl.state(stream, group)),
      })),
    );
  }

  /** The streams with a `flow` on each group this service handles; other groups have none. */
  withFlows(streams: readonly StreamInfo[]): Promise<StreamWithFlows[]> {
    return Promise.all(
      streams.map(async (info) => ({
        ...info,
        groups: await Promise.all(
          info.groups.map(async (group) =>
            this.isHandled(info.stream, group.name)
              ? { ...group, flow: await this.flowControl.state(info.stream, group.name) }
              : group,
          ),
        ),
      })),
    );
  }

  /** Throws `UnknownStreamError` or `UnknownGroupError` unless a handler consumes the group. */
  assertHandled(stream: string, group: string): void {
    this.inspector.assertKnown(stream);
    if (!this.isHandled(stream, group)) {
      const groups = this.handled()
        .filter((handler) => handler.stream === stream)
        .map((handler) => handler.group);
      throw new UnknownGroupError(stream, group, groups);
    }
  }

  private isHandled(stream: string, group: string): boolean {
    return this.handled().some((handler) => handler.stream === stream && handler.group === group);
  }

  /** Each stream and group once (several handlers may share a group's name on other streams). */
  private handled(): Array<{ stream: string; group: string }> {
    const seen = new Map<string, { stream: string; group: string }>();
    for (const handler of this.status.handlers()) {
      seen.set(`${handler.stream}\n${handler.group}`, handler);
    }
    return [...seen.values()].sort(
      (a, b) => a.stream.localeCompare(b.stream) || a.group.localeCompare(b.group),
    );
  }
}
