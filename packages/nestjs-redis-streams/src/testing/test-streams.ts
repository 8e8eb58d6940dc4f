import type { INestApplicationContext } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import {
  StreamInspector,
  UnknownStreamError,
  type DeadLetter,
  type Page,
  type PendingEntry,
} from '../inspection/stream-inspector.js';
import { INSPECTION } from '../redis-streams.constants.js';
import { RedisStreamsStatus } from '../redis-streams.status.js';
import { RedisConnections } from '../redis/redis-connections.js';
import { StreamDeclarations } from '../stream-declarations.js';
import { StreamEvents } from '../stream-events.js';
import { compareStreamIds } from '../stream-id.js';
import { AppStreams, type HandlerGroup, type StreamName } from './app-streams.js';
import { HandlerCalls, type HandlerCall, type HandlerCallFilter } from './handler-calls.js';
import { describeOutstanding, OutstandingWork, type Outstanding } from './outstanding-work.js';
import type { RedisForTests } from './redis-for-tests.interface.js';
import { ScheduledRetries } from './scheduled-retries.js';
import { startStreamsTestApp, type StreamsTestAppOptions } from './streams-test-app.js';

/**
 * What `idle()` does about retries scheduled for later.
 * - `wait`: they are work like any other; `idle()` waits until they have run (and finished).
 * - `run-now`: they are made due as soon as they are scheduled, so backoff takes no time.
 * - `leave-scheduled`: an entry that waits for a retry due later counts as done for now.
 */
export type RetriesWhileIdle = 'wait' | 'run-now' | 'leave-scheduled';

export interface IdleOptions {
  /** How long to wait before failing with what is still outstanding (default 4 s, below Jest's 5 s). */
  timeoutMs?: number;
  /** See `RetriesWhileIdle`; default `wait`. */
  retries?: RetriesWhileIdle;
}

/** A dead letter, with the stream (and partition) it came from. */
export type TestDeadLetter = DeadLetter & StreamName;

/** An entry delivered to a group and not yet acknowledged or dead-lettered. */
export type TestPendingEntry = PendingEntry & StreamName & { group: string };

export const DEFAULT_IDLE_TIMEOUT_MS = 4_000;
/** How often `idle()` looks. */
const IDLE_POLL_MS = 10;
/** Looks in a row that must find nothing to do, with no event in between, before `idle()` resolves. */
const QUIET_LOOKS = 2;

/** `idle()` ran out of time: `outstanding` says what was still to do. */
export class StreamsNotIdleError extends Error {
  override readonly name = 'StreamsNotIdleError';

  constructor(
    readonly outstanding: Outstanding,
    timeoutMs: number,
  ) {
    const lines = describeOutstanding(outstanding, Date.now());
    const retrying = outstanding.groups.some((backlog) => backlog.retries > 0);
    super(
      `The streams were not idle within ${timeoutMs} ms. Still outstanding:\n` +
        lines.map((line) => `  ${line}`).join('\n') +
        (retrying
          ? '\nScheduled retries wait out their backoff: make them due with streams.retries.runDue(), ' +
            "or wait with idle({ retries: 'run-now' })."
          : ''),
    );
  }
}

/**
 * A test's view of the streams of one Nest app that imports RedisStreamsModule: wait until its
 * handlers are done (`idle`), make retries due (`retries`), and look at what happened (`calls`,
 * `deadLetters`, `pending`). Everything is read from the library's own state: Redis (groups,
 * pending entries, scheduled retries, dead letters), the app's consumers and its StreamEvents.
 */
export class TestStreams<A extends INestApplicationContext = INestApplicationContext> {
  /** Scheduled retries: list them, make them due now, or move time on for them. */
  readonly retries: ScheduledRetries;
  private readonly streams: AppStreams;
  private readonly work: OutstandingWork;
  private readonly handlerCalls: HandlerCalls;
  private readonly inspector: StreamInspector;
  private readonly unsubscribe: () => void;
  /** Events seen so far: a look that spans one may have read streams before and after it. */
  private activity = 0;

  private constructor(
    /** The app: `app.get(StreamPublisher)` and whatever else the test needs. */
    readonly app: A,
    redis: RedisForTests | undefined,
    private readonly ownsApp: boolean,
  ) {
    const connections = app.get(RedisConnections);
    const status = app.get(RedisStreamsStatus);
    const events = app.get(StreamEvents);
    const redisClient = () => connections.command;
    this.streams = new AppStreams(status, app.get(StreamDeclarations));
    this.inspector = app.get(StreamInspector);
    this.work = new OutstandingWork(redisClient, this.streams, status);
    this.retries = new ScheduledRetries(redisClient, this.streams);
    this.handlerCalls = new HandlerCalls(events, this.streams);
    redis?.track([
      ...this.streams.groups().map(({ stream }) => stream),
      ...this.streams.partitioned(),
    ]);
    const seen = (): void => void this.activity++;
    this.unsubscribe = events.subscribe({
      published: ({ stream }) => {
        seen();
        redis?.track([stream]);
      },
      handled: seen,
      failed: seen,
      retried: seen,
      reclaimed: seen,
      deadLettered: seen,
      infrastructureFailed: seen,
    });
  }

  /**
   * Watches an app that the test built and initialized itself (its consumers have started). With
   * `redis`, the app's streams are tracked for `redis.reset()`. `close()` does not close the app.
   */
  static attach<A extends INestApplicationContext>(
    app: A,
    options: { redis?: RedisForTests } = {},
  ): TestStreams<A> {
    return new TestStreams(app, options.redis, false);
  }

  /** Starts an app with `startStreamsTestApp` and watches it; `close()` closes it. */
  static async start<A extends INestApplicationContext = TestingModule>(
    options: StreamsTestAppOptions<A>,
  ): Promise<TestStreams<A>> {
    return new TestStreams(await startStreamsTestApp(options), options.redis, true);
  }

  /**
   * Resolves once every entry in the streams the app's handlers consume has been delivered to each
   * of their groups and is no longer pending (acknowledged or dead-lettered), and no handler call
   * runs in this app: including what handlers published meanwhile, retries (see `retries`), and
   * every partition of ordered handlers. Entries keep coming while something publishes: then it
   * fails after `timeoutMs`, with what was still outstanding (StreamsNotIdleError).
   */
  async idle({
    timeoutMs = DEFAULT_IDLE_TIMEOUT_MS,
    retries = 'wait',
  }: IdleOptions = {}): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let quietLooks = 0;
    for (;;) {
      const activity = this.activity;
      const outstanding = await this.work.read(retries === 'leave-scheduled');
      const nothingLeft = outstanding.groups.length === 0 && outstanding.running.length === 0;
      quietLooks = nothingLeft && activity === this.activity ? quietLooks + 1 : 0;
      if (quietLooks >= QUIET_LOOKS) return;
      if (retries === 'run-now' && outstanding.groups.some((backlog) => backlog.retries > 0)) {
        await this.retries.runDue();
      }
      if (Date.now() >= deadline) throw new StreamsNotIdleError(outstanding, timeoutMs);
      await new Promise((resolve) => setTimeout(resolve, IDLE_POLL_MS));
    }
  }

  /** The handler calls that ended in this app so far, oldest first; `filter` picks some. */
  calls(filter?: HandlerCallFilter): HandlerCall[] {
    return this.handlerCalls.list(filter);
  }

  /**
   * The dead letters of `stream` (by the name handlers use: every partition), oldest first, or of
   * every stream the app's handlers consume. Each has `error`: why it was dead-lettered.
   */
  async deadLetters(stream?: string): Promise<TestDeadLetter[]> {
    const redisStreams = [...new Set(this.groupsOf(stream).map((each) => each.stream))];
    const letters = await Promise.all(
      redisStreams.map(async (redisStream) => {
        const named = this.streams.named(redisStream);
        const found: TestDeadLetter[] = [];
        let cursor: string | undefined = '+';
        while (cursor) {
          const page = await this.inspector.deadLetters(redisStream, cursor, INSPECTION.maxPage);
          found.push(...page.items.map((letter) => ({ ...letter, ...named })));
          cursor = page.next;
        }
        return found;
      }),
    );
    return letters.flat().sort((a, b) => compareStreamIds(a.id, b.id));
  }

  /** Entries delivered and not yet acknowledged or dead-lettered, per group, oldest first. */
  async pending(stream?: string): Promise<TestPendingEntry[]> {
    const perGroup = await Promise.all(
      this.groupsOf(stream).map(async ({ stream: redisStream, group }) => {
        const named = this.streams.named(redisStream);
        const found: TestPendingEntry[] = [];
        let cursor: string | undefined = '-';
        while (cursor) {
          const page: Page<PendingEntry> = await this.inspector
            .pending(redisStream, group, cursor, INSPECTION.maxPage)
            .catch(noGroupYet);
          found.push(...page.items.map((entry) => ({ ...entry, ...named, group })));
          cursor = page.next;
        }
        return found;
      }),
    );
    return perGroup.flat();
  }

  /** Stops watching; closes the app if `start` started it. */
  async close(): Promise<void> {
    this.unsubscribe();
    this.handlerCalls.stop();
    if (this.ownsApp) await this.app.close();
  }

  private groupsOf(stream: string | undefined): HandlerGroup[] {
    const groups = this.streams.groupsOf(stream);
    if (stream !== undefined && groups.length === 0) throw new UnknownStreamError(stream);
    return groups;
  }
}

/** A group its consumer has not created yet has nothing pending. */
function noGroupYet(error: Error): Page<PendingEntry> {
  if (/NOGROUP|no such key/i.test(error.message)) return { items: [] };
  throw error;
}
