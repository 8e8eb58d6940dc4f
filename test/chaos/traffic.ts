import type { INestApplication } from '@nestjs/common';
import { StreamPublisher } from '@redis-streams-alerts/nestjs-redis-streams';
import type { ServiceProcess } from '../support/service-process.js';
import { startStreamsApp } from '../support/streams-app.js';
import { sleep } from '../support/wait-for.js';
import { ORDERED, WAITS } from './chaos.constants.js';
import type { History, PublishOutcome } from './history.js';

/** Tries of one alert (same Idempotency-Key, next instance each time), as a careful client makes. */
const TRIES_PER_ALERT = 3;
const ALERT_WORKERS = 2;
const ALERT_PAUSE_MS = 40;
const ORDERED_PAUSE_MS = 200;
const RETRY_PAUSE_MS = 200;
const SOURCES = ['db-1', 'web-1', 'web-2', 'queue-1', 'cache-1'];

/** The eventId of the n-th alert of a run, sent as its Idempotency-Key. */
export const alertKey = (seed: number, n: number): string => `a${seed}-${n}`;
/** The eventId of event `seq` of partition key `key` on the ordered stream. */
export const orderedEventId = (seed: number, key: string, seq: number): string =>
  `o${seed}-${key}-${seq}`;

function outcomeOf(status: number, error: unknown): PublishOutcome {
  if (status === 202) return 'accepted';
  if (status === 503) return 'unavailable';
  if (status !== 0) return 'other';
  return /timeout|aborted/i.test(String(error)) ? 'timeout' : 'refused';
}

/**
 * Publishes alerts over HTTP to the live instances, round robin, each with an Idempotency-Key the
 * client chose, so the eventId is known before the answer. A 503, a timeout or no connection is
 * tried again with the same key on the next instance; every attempt goes into the history.
 */
export class AlertPublisher {
  private n = 0;
  private rotation = 0;
  private stopped = false;
  private loops: Array<Promise<void>> = [];

  constructor(
    private readonly history: History,
    private readonly targets: () => ServiceProcess[],
  ) {}

  start(): void {
    for (let w = 0; w < ALERT_WORKERS; w++) this.loops.push(this.loop());
  }

  /** Stops the loops and waits for the requests in flight (each bounded by its timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      await this.publishOne(alertKey(this.history.seed, ++this.n));
      await sleep(ALERT_PAUSE_MS);
    }
  }

  private async publishOne(key: string): Promise<void> {
    const alert = {
      message: `chaos alert ${key}`,
      severity: 'warning',
      source: SOURCES[this.n % SOURCES.length],
    };
    for (let tried = 0; tried < TRIES_PER_ALERT && !this.stopped;) {
      const live = this.targets();
      if (live.length === 0) {
        await sleep(RETRY_PAUSE_MS);
        continue;
      }
      const target = live[this.rotation++ % live.length];
      tried += 1;
      const at = Date.now();
      const result = await target.postAlert(alert, key, WAITS.publishTimeoutMs);
      const outcome = outcomeOf(result.status, result.body.error);
      this.history.publishes.push({
        key,
        process: target.consumerName,
        at,
        ms: result.ms,
        status: result.status,
        outcome,
        ...(outcome === 'accepted' && {
          entryId: String(result.body.id),
          eventId: String(result.body.eventId),
        }),
      });
      if (outcome === 'accepted') return;
      await sleep(RETRY_PAUSE_MS);
    }
  }
}

/**
 * Publishes the ordered stream's events through the library's own StreamPublisher, one partition
 * key after another's events in sequence: event n+1 of a key only once event n was confirmed (a
 * failed publish is repeated with the same eventId, which the publisher de-duplicates). So the
 * stream holds each key's events in the order of their numbers.
 */
export class OrderedPublisher {
  private stopped = false;
  private loops: Array<Promise<void>> = [];

  private constructor(
    private readonly history: History,
    private readonly app: INestApplication,
  ) {}

  static async open(history: History, redisUrl: string): Promise<OrderedPublisher> {
    const app = await startStreamsApp(
      {
        url: redisUrl,
        consumerName: 'chaos-publisher',
        consumersEnabled: false,
        partitions: { [ORDERED.stream]: ORDERED.partitions },
      },
      [],
    );
    return new OrderedPublisher(history, app);
  }

  start(): void {
    for (let k = 0; k < ORDERED.keys; k++) this.loops.push(this.loop(`k${k}`));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  async close(): Promise<void> {
    await this.stop();
    await this.app.close();
  }

  private async loop(key: string): Promise<void> {
    const publisher = this.app.get(StreamPublisher);
    for (let seq = 1; !this.stopped;) {
      const eventId = orderedEventId(this.history.seed, key, seq);
      const at = Date.now();
      try {
        const result = await publisher.publish(
          ORDERED.stream,
          { key, seq },
          { eventId, partitionKey: key },
        );
        this.history.ordered.push({
          eventId,
          key,
          seq,
          at,
          ok: true,
          entryId: result.id,
          stream: result.stream,
        });
        seq += 1;
        await sleep(ORDERED_PAUSE_MS);
      } catch (error) {
        this.history.ordered.push({
          eventId,
          key,
          seq,
          at,
          ok: false,
          error: (error as Error).message,
        });
        await sleep(RETRY_PAUSE_MS);
      }
    }
  }
}
