import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Counter, Histogram, Registry } from 'prom-client';
import {
  RedisStreamsStatus,
  StreamEvents,
  type GroupEvent,
  type HandledEvent,
} from '@redis-streams-alerts/nestjs-redis-streams';
import {
  END_TO_END_LATENCY_BUCKETS,
  GROUP_LABELS,
  HANDLER_DURATION_BUCKETS,
  STREAM_METRIC_PREFIX as P,
  type GroupLabel,
} from './metrics.constants.js';

/**
 * Counters and histograms of what the library does, fed by `StreamEvents` on its hot path: each
 * event is one increment or one observation, nothing more. Every handler's series exist from the
 * first scrape at zero, so a rate or an alert on them works before the first event.
 */
@Injectable()
export class StreamActivityMetrics implements OnModuleInit, OnApplicationShutdown {
  private readonly published: Counter<'stream'>;
  private readonly duplicates: Counter<'stream'>;
  private readonly delivered: Counter<GroupLabel>;
  private readonly failed: Counter<GroupLabel>;
  private readonly retried: Counter<GroupLabel>;
  private readonly reclaimed: Counter<GroupLabel>;
  private readonly deadLettered: Counter<GroupLabel>;
  private readonly infrastructureFailures: Counter<GroupLabel>;
  private readonly handlerDuration: Histogram<GroupLabel>;
  private readonly endToEndLatency: Histogram<GroupLabel>;
  /** `stream\0group` of the label sets already created. */
  private readonly known = new Set<string>();
  private unsubscribe?: () => void;

  constructor(
    registry: Registry,
    private readonly events: StreamEvents,
    private readonly status: RedisStreamsStatus,
  ) {
    const registers = [registry];
    const collect = (): void => this.createHandlerSeries();
    const counter = (name: string, help: string): Counter<GroupLabel> =>
      new Counter({ name: P + name, help, labelNames: GROUP_LABELS, registers, collect });
    const histogram = (
      name: string,
      help: string,
      buckets: readonly number[],
    ): Histogram<GroupLabel> =>
      new Histogram({
        name: P + name,
        help,
        labelNames: GROUP_LABELS,
        buckets: [...buckets],
        registers,
        collect,
      });
    this.published = new Counter({
      name: `${P}published_total`,
      help: 'Entries appended by StreamPublisher (de-duplicated publishes not counted).',
      labelNames: ['stream'],
      registers,
    });
    this.duplicates = new Counter({
      name: `${P}publish_duplicates_total`,
      help: 'Publishes of an eventId already published within the de-duplication window: nothing was appended.',
      labelNames: ['stream'],
      registers,
    });
    this.delivered = counter(
      'delivered_total',
      'Entries whose handler succeeded and that were acknowledged.',
    );
    this.failed = counter(
      'failed_attempts_total',
      'Handler attempts that failed (a retry was scheduled, or the entry was dead-lettered).',
    );
    this.retried = counter('retries_total', 'Due retries taken up again.');
    this.reclaimed = counter(
      'reclaimed_total',
      'Entries claimed from consumers that stopped (idle longer than CLAIM_MIN_IDLE_MS).',
    );
    this.deadLettered = counter(
      'dead_lettered_total',
      'Entries moved to the dead-letter stream (<stream>:dlq).',
    );
    this.infrastructureFailures = counter(
      'infrastructure_failures_total',
      "Calls for an entry that Redis failed (full, read-only, unreachable, too slow), the library's own or a handler's: the entry stayed pending and spent no attempt.",
    );
    this.handlerDuration = histogram(
      'handler_duration_seconds',
      'How long successful handler calls ran.',
      HANDLER_DURATION_BUCKETS,
    );
    this.endToEndLatency = histogram(
      'end_to_end_latency_seconds',
      "From the time in the entry id (when Redis appended it) to the entry's acknowledgement.",
      END_TO_END_LATENCY_BUCKETS,
    );
  }

  onModuleInit(): void {
    this.unsubscribe ??= this.events.subscribe({
      published: ({ stream, count, duplicates }) => {
        this.published.inc({ stream }, count);
        this.duplicates.inc({ stream }, duplicates);
      },
      handled: (event) => this.onHandled(event),
      failed: (event) => this.count(this.failed, event),
      retried: (event) => this.count(this.retried, event, event.count),
      reclaimed: (event) => this.count(this.reclaimed, event, event.count),
      deadLettered: (event) => this.count(this.deadLettered, event),
      infrastructureFailed: (event) => this.count(this.infrastructureFailures, event),
    });
  }

  // NOTE: not onModuleDestroy: consumers drain in beforeApplicationShutdown, which comes after it,
  // and what they finish then is still counted.
  onApplicationShutdown(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private onHandled(event: HandledEvent): void {
    this.count(this.delivered, event);
    const labels = { stream: event.stream, group: event.group };
    this.handlerDuration.observe(labels, event.durationMs / 1_000);
    // The entry id's time comes from the Redis host's clock: a skew must not make it negative.
    this.endToEndLatency.observe(labels, Math.max(0, event.latencyMs) / 1_000);
  }

  private count(counter: Counter<GroupLabel>, event: GroupEvent, value = 1): void {
    this.createSeries(event);
    // Labels picked one by one: the events carry more fields, which prom-client would refuse.
    counter.inc({ stream: event.stream, group: event.group }, value);
  }

  private createHandlerSeries(): void {
    for (const handler of this.status.handlers()) this.createSeries(handler);
  }

  /** Creates every group series of a stream and group at zero, once. */
  private createSeries({ stream, group }: GroupEvent): void {
    const key = `${stream}\u0000${group}`;
    if (this.known.has(key)) return;
    this.known.add(key);
    const labels = { stream, group };
    for (const counter of [
      this.delivered,
      this.failed,
      this.retried,
      this.reclaimed,
      this.deadLettered,
      this.infrastructureFailures,
    ]) {
      counter.inc(labels, 0);
    }
    // zero() replaces a label set's data: it is only ever called before the first observation.
    this.handlerDuration.zero(labels);
    this.endToEndLatency.zero(labels);
  }
}
