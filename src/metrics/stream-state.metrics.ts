import { Injectable, Logger } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';
import { GroupFlows, type GroupFlow } from '../flow/group-flows.js';
import { StreamInspector, type StreamInfo } from '@redis-streams-alerts/nestjs-redis-streams';
import { withTimeout } from '../common/waits.js';
import {
  GROUP_LABELS,
  REDIS_READ_TIMEOUT_MS,
  STREAM_METRIC_PREFIX as P,
  type GroupLabel,
} from './metrics.constants.js';

/** What one scrape reads from Redis. */
interface StreamState {
  streams: StreamInfo[];
  flows: GroupFlow[];
}

/**
 * Gauges of what Redis holds (stream length, group lag, pending, dead letters, consumers, and the
 * flow state of the handled groups), read on scrape: one `StreamInspector.streams()` and one
 * `GroupFlows.all()` per scrape, shared by every gauge, bounded by
 * `REDIS_READ_TIMEOUT_MS`. When Redis does not answer in time, the scrape still answers at once,
 * with `redis_streams_redis_up 0` and without these gauges rather than with stale values.
 */
@Injectable()
export class StreamStateMetrics {
  private readonly logger = new Logger('Metrics');
  private readonly up: Gauge;
  private readonly length: Gauge<'stream'>;
  private readonly deadLetterLength: Gauge<'stream'>;
  private readonly lag: Gauge<GroupLabel>;
  private readonly pending: Gauge<GroupLabel>;
  private readonly oldestPendingAge: Gauge<GroupLabel>;
  private readonly consumers: Gauge<GroupLabel>;
  private readonly paused: Gauge<GroupLabel>;
  private readonly busy: Gauge<GroupLabel>;
  private readonly circuitOpen: Gauge<GroupLabel>;
  /** The refresh of the scrape in progress, awaited by every gauge's collect. */
  private refreshing?: Promise<void>;
  /** The read of Redis in progress; it may outlive a scrape that gave up on it. */
  private reading?: Promise<StreamState>;
  private lastFailure?: string;

  constructor(
    registry: Registry,
    private readonly inspector: StreamInspector,
    private readonly groupFlows: GroupFlows,
  ) {
    const registers = [registry];
    const collect = (): Promise<void> => this.refresh();
    const perStream = (name: string, help: string): Gauge<'stream'> =>
      new Gauge({ name: P + name, help, labelNames: ['stream'], registers, collect });
    const perGroup = (name: string, help: string): Gauge<GroupLabel> =>
      new Gauge({ name: P + name, help, labelNames: GROUP_LABELS, registers, collect });
    this.up = new Gauge({
      name: `${P}redis_up`,
      help: `1 when this scrape read the streams from Redis within ${REDIS_READ_TIMEOUT_MS} ms; 0 otherwise, and the stream gauges are then left out.`,
      registers,
      collect,
    });
    this.length = perStream('stream_length', 'Entries in the stream (XLEN).');
    this.deadLetterLength = perStream(
      'dead_letter_length',
      'Entries in the dead-letter stream of the stream (<stream>:dlq).',
    );
    this.lag = perGroup(
      'group_lag',
      'Entries of the stream not yet delivered to the group; left out when Redis cannot tell (after deletions).',
    );
    this.pending = perGroup(
      'group_pending',
      'Entries delivered to a consumer of the group and not yet acknowledged, retries waiting included.',
    );
    this.oldestPendingAge = perGroup(
      'group_oldest_pending_age_seconds',
      "Age of the group's oldest pending entry, from the time in its id; 0 when nothing is pending.",
    );
    this.consumers = perGroup(
      'group_consumers',
      'Consumers Redis knows in the group; one that stopped stays until it is deleted.',
    );
    this.paused = perGroup(
      'group_paused',
      '1 while the group is paused by hand (admin API, CLI, dashboard), on every instance; handled groups only.',
    );
    this.busy = perGroup(
      'group_busy',
      '1 while the destination said it is busy (429/503 with Retry-After) and the group waits; handled groups only.',
    );
    this.circuitOpen = perGroup(
      'group_circuit_open',
      '1 while the circuit is open: the destination is taken to be down and only probe calls go out; handled groups only.',
    );
  }

  private refresh(): Promise<void> {
    this.refreshing ??= this.readAndSet().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async readAndSet(): Promise<void> {
    let streams: StreamInfo[];
    let flows: GroupFlow[];
    try {
      ({ streams, flows } = await withTimeout(this.read(), REDIS_READ_TIMEOUT_MS));
    } catch (error) {
      this.setDown((error as Error).message);
      return;
    }
    this.clear();
    for (const info of streams) {
      this.length.set({ stream: info.stream }, info.length);
      this.deadLetterLength.set({ stream: info.stream }, info.deadLetter.length);
      for (const group of info.groups) {
        const labels = { stream: info.stream, group: group.name };
        if (group.lag !== null) this.lag.set(labels, group.lag);
        this.pending.set(labels, group.pending);
        this.oldestPendingAge.set(labels, (group.oldestPendingAgeMs ?? 0) / 1_000);
        this.consumers.set(labels, group.consumers.length);
      }
    }
    for (const flow of flows) {
      const labels = { stream: flow.stream, group: flow.group };
      this.paused.set(labels, flow.paused ? 1 : 0);
      // `busyUntil` is only there while it lies ahead, by Redis's clock.
      this.busy.set(labels, flow.busyUntil ? 1 : 0);
      this.circuitOpen.set(labels, flow.circuit === 'open' ? 1 : 0);
    }
    this.up.set(1);
    if (this.lastFailure !== undefined) this.logger.log('Stream gauges are read from Redis again');
    this.lastFailure = undefined;
  }

  /** At most one read in flight: a scrape after one that timed out waits for the same read. */
  private read(): Promise<StreamState> {
    this.reading ??= Promise.all([this.inspector.streams(), this.groupFlows.all()])
      .then(([streams, flows]) => ({ streams, flows }))
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }

  private setDown(reason: string): void {
    this.clear();
    this.up.set(0);
    // Once per outage: Prometheus scrapes every few seconds, and the connection logs its own errors.
    if (this.lastFailure === undefined) {
      this.logger.warn(`Stream gauges left out of /metrics: could not read Redis: ${reason}`);
    }
    this.lastFailure = reason;
  }

  private clear(): void {
    for (const gauge of [
      this.length,
      this.deadLetterLength,
      this.lag,
      this.pending,
      this.oldestPendingAge,
      this.consumers,
      this.paused,
      this.busy,
      this.circuitOpen,
    ]) {
      gauge.reset();
    }
  }
}
