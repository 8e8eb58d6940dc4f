import { parseFlowState, type FlowState } from '../flow-control.js';
import {
  FLOW_BUSY,
  FLOW_FAILED,
  FLOW_STATE,
  FLOW_SUCCEEDED,
  FLOW_TAKE_PROBE,
  FLOW_TAKE,
} from '../scripts/flow.scripts.js';
import type { ConsumerContext } from './consumer-definition.js';
import { decide, underDeadline, type Deadline, type Decision } from './decide.js';
import type { Invocation } from './handler-invoker.js';
import { streamIdTimeMs } from '../stream-id.js';
import type { FlowSettings } from './flow-settings.js';

/** The longest a busy signal pauses a group. */
const MAX_BUSY_MS = 5 * 60_000;

/**
 * One consumer's view of its group's flow state in Redis (see scripts/flow.scripts.ts), and the
 * limit it puts on how many calls may run here now:
 * - none while the group is paused by hand, or busy (a handler threw RetryLaterError with a
 *   delay), or its circuit is open; one while this consumer holds the open circuit's probe;
 * - after any of these ends, a few calls first (1, then doubling with each success) until the
 *   full concurrency: the destination is not hit by every slot of every instance at once.
 * The view is refreshed every maintenance tick and at once on this consumer's own signals;
 * `changed` is called when calls may start again, so that the consumer looks at its slots.
 */
export class FlowGate {
  private paused = false;
  /** Local times (ms) until which the group is busy, and until the circuit's next probe. */
  private busyUntil = 0;
  private openUntil = 0;
  private streak = 0;
  /** This consumer holds the open circuit's probe: its next call is the probe. */
  private probing = false;
  /** Calls allowed at once while resuming; Infinity once resumed in full. */
  private ramp = Infinity;
  private wakeTimer?: NodeJS.Timeout;
  private wakeAtMs = 0;
  /** Server time minus local time, as of the last reply. */
  private offset = 0;
  /** Calls/s the group resumes at after busy signals (0: none), as last read. */
  private resumeRate = 0;

  constructor(
    private readonly context: ConsumerContext,
    private readonly settings: FlowSettings,
    private readonly changed: () => void,
  ) {}

  /** How many calls may run here now, out of `concurrency`. */
  limit(concurrency: number): number {
    if (this.paused) return 0;
    if (this.busyUntil !== 0 && this.busyUntil > Date.now()) return 0;
    if (this.openUntil > 0) return this.probing ? 1 : 0;
    return this.ramp < concurrency ? this.ramp : concurrency;
  }

  /** Reads the group's state; takes the probe when the circuit's wait is over. */
  async refresh(): Promise<void> {
    const reply = await FLOW_STATE.run(this.context.redis(), [this.settings.key], []);
    this.apply(reply);
    if (this.openUntil > 0 && this.openUntil <= Date.now() && !this.probing) {
      const taken = await FLOW_TAKE_PROBE.run<number>(
        this.context.redis(),
        [this.settings.key],
        [this.context.runtime.consumerName, this.settings.circuit?.maxProbeIntervalMs ?? 30_000],
      );
      if (Number(taken) === 1) {
        this.probing = true;
        this.context.logger.log(
          `Circuit open: this consumer sends the probe call (${this.where()})`,
        );
        this.changed();
      }
    }
  }

  /** Takes the group's flow hash as read just now (see GroupReader), in server time as last seen. */
  observe(fields: Record<string, string>): void {
    const pairs = Object.entries(fields).flat();
    this.apply([Date.now() + this.offset, ...pairs]);
  }

  /** The destination is busy: the group starts no call for `delayMs`. */
  async busy(delayMs: number): Promise<void> {
    const until = await FLOW_BUSY.run<number>(
      this.context.redis(),
      [this.settings.key],
      [Math.max(0, Math.round(delayMs)), MAX_BUSY_MS],
    );
    this.busyUntil = Math.max(this.busyUntil, Number(until) - this.offset);
    // FLOW_BUSY set a rate to resume at; the next read of the state says which.
    this.resumeRate = Math.max(this.resumeRate, 1);
    this.ramp = 1;
    this.wakeAt(this.busyUntil);
  }

  /**
   * A call failed for this entry (not a busy signal, not Redis). With circuit breaking, returns
   * until when (local ms) the circuit is open, or 0 while it is closed.
   */
  async failed(entryId: string): Promise<number> {
    const circuit = this.settings.circuit;
    if (!circuit) return 0;
    const probe = this.probing;
    const [open, openUntil] = await FLOW_FAILED.run<[number, number]>(
      this.context.redis(),
      [this.settings.key],
      [entryId, circuit.failures, circuit.firstProbeMs, circuit.maxProbeIntervalMs, probe ? 1 : 0],
    );
    this.probing = false;
    if (Number(open) !== 1) {
      this.streak += 1;
      return 0;
    }
    const wasClosed = this.openUntil === 0;
    this.openUntil = Number(openUntil) - this.offset;
    if (wasClosed) {
      this.context.logger.warn(
        `Circuit opened: calls failed for ${circuit.failures} different entries in a row; no attempts are spent while it is open, and probe calls go out at growing intervals (${this.where()})`,
      );
    }
    this.ramp = 1;
    this.wakeAt(this.openUntil);
    return this.openUntil;
  }

  /** A call succeeded: ends a failure streak, closes an open circuit, and speeds a resume up. */
  succeeded(concurrency: number): void {
    if (this.ramp !== Infinity) this.ramp = this.ramp * 2 >= concurrency ? Infinity : this.ramp * 2;
    if (this.streak === 0 && this.openUntil === 0 && !this.probing) return;
    const closing = this.openUntil > 0 || this.probing;
    this.streak = 0;
    this.openUntil = 0;
    this.probing = false;
    if (closing) {
      this.ramp = 1;
      this.context.logger.log(`Circuit closed: a call succeeded (${this.where()})`);
    }
    void FLOW_SUCCEEDED.run(this.context.redis(), [this.settings.key], []).catch(() => undefined);
    this.changed();
  }

  /**
   * Whether calls take tokens now: a rate limit is configured, or the group resumes at a rate
   * after busy signals (see FLOW_TAKE).
   */
  get rated(): boolean {
    return this.settings.rate !== undefined || this.resumeRate > 0;
  }

  /**
   * Takes up to `count` call tokens (all of them while nothing limits the rate), and returns how
   * many it got and, when none, how long until the next.
   */
  async take(count: number): Promise<{ granted: number; waitMs: number }> {
    if (!this.rated || count <= 0) return { granted: count, waitMs: 0 };
    return this.takeTokens(count);
  }

  /**
   * Decides on an invocation (see `decide`) under flow control: a success speeds a resume up and
   * closes a circuit; anything else goes through `review`. Synchronous for a success, the hot path.
   */
  judge(
    invocation: Invocation,
    attempt: number,
    tries: number,
    busyDelayMs: number,
    concurrency: number,
  ): Decision | Promise<Decision> {
    const { policy, flow } = this.context.definition;
    const { maxAgeMs } = flow;
    const deadline =
      maxAgeMs === undefined
        ? undefined
        : { ageMs: Date.now() - streamIdTimeMs(invocation.entry.id), maxAgeMs };
    const decision = decide(policy, attempt, invocation, busyDelayMs, deadline, tries);
    if (decision.action !== 'ack') {
      return this.review(decision, invocation.entry.id, attempt, deadline);
    }
    this.succeeded(concurrency);
    return decision;
  }

  /**
   * What flow control makes of a decision other than `ack`: a busy signal pauses the group and
   * waits without spending an attempt; a failure counts towards the circuit, and while the circuit
   * is open the entry waits for it instead of spending an attempt or being dead-lettered. Waits
   * past the delivery deadline become dead letters.
   */
  private async review(
    decision: Decision,
    entryId: string,
    attempt: number,
    deadline: Deadline | undefined,
  ): Promise<Decision> {
    if (decision.action === 'busy') {
      const { delayMs } = decision;
      if (delayMs !== undefined) {
        this.context.logger.warn(
          `Destination busy, the group waits ${delayMs} ms (${this.where()} entry=${entryId}): ${decision.reason}`,
        );
        await this.busy(delayMs).catch(() => undefined);
      }
      return { action: 'defer', delayMs: decision.entryDelayMs };
    }
    const counts =
      decision.action === 'retry' ||
      (decision.action === 'dead-letter' && decision.limit === 'attempts');
    if (!counts || !this.settings.circuit) return decision;
    const openUntil = await this.failed(entryId).catch(() => 0);
    if (openUntil === 0) return decision;
    // Back a little after the probe, so that the probe's answer is known by then.
    const waitMs = Math.max(0, openUntil - Date.now()) + Math.round(Math.random() * 500);
    const reason = decision.reason;
    const wait = underDeadline(deadline, waitMs, attempt, reason);
    return 'action' in wait ? wait : { action: 'defer', delayMs: wait.delayMs };
  }

  /** Takes up to `count` tokens; when there is none, waits (`pause`) for the next and takes none. */
  async tokensFor(count: number, pause: (ms: number) => Promise<void>): Promise<number> {
    const { granted, waitMs } = await this.take(count);
    if (granted === 0) await pause(waitMs);
    return granted;
  }

  /** Gives back tokens taken and not used (a read returned fewer entries). */
  async giveBack(count: number): Promise<void> {
    if (this.rated && count > 0) await this.takeTokens(-count);
  }

  private async takeTokens(count: number): Promise<{ granted: number; waitMs: number }> {
    const { rate } = this.settings;
    const [granted, waitMs] = await FLOW_TAKE.run<[number, number]>(
      this.context.redis(),
      [this.settings.key],
      [count, rate?.max ?? 0, rate?.perMs ?? 0],
    );
    return { granted: Number(granted), waitMs: Number(waitMs) };
  }

  /** Whether calls are held back now (paused, busy or circuit open), for health and metrics. */
  state(): FlowState {
    const now = Date.now();
    return {
      paused: this.paused,
      busyUntil: this.busyUntil > now ? new Date(this.busyUntil).toISOString() : undefined,
      circuit: this.openUntil > 0 ? 'open' : 'closed',
      nextProbeAt: this.openUntil > 0 ? new Date(this.openUntil).toISOString() : undefined,
      failureStreak: this.streak,
      resumeRate: this.resumeRate > 0 ? this.resumeRate : undefined,
    };
  }

  stop(): void {
    clearTimeout(this.wakeTimer);
  }

  private apply(reply: unknown): void {
    const { now, state, busyUntil: busyAt, openUntil: openAt } = parseFlowState(reply);
    this.offset = now - Date.now();
    const wasHeld = this.limit(Infinity) === 0;
    if (state.paused !== this.paused) {
      this.context.logger.log(`${state.paused ? 'Paused' : 'Resumed'} by hand (${this.where()})`);
      if (!state.paused) this.ramp = 1;
    }
    this.paused = state.paused;
    const busyUntil = busyAt > 0 ? busyAt - this.offset : 0;
    if (busyUntil > this.busyUntil) this.ramp = 1;
    this.busyUntil = Math.max(0, busyUntil);
    this.openUntil = openAt > 0 ? openAt - this.offset : 0;
    if (this.openUntil === 0) this.probing = false;
    this.streak = state.failureStreak;
    this.resumeRate = state.resumeRate ?? 0;
    if (this.busyUntil > Date.now()) this.wakeAt(this.busyUntil);
    if (this.openUntil > 0) this.wakeAt(this.openUntil);
    if (wasHeld && this.limit(Infinity) > 0) this.changed();
  }

  /** Looks again at `at`: a pause ends, or a probe may be taken. */
  private wakeAt(at: number): void {
    if (this.wakeTimer && this.wakeAtMs <= at && this.wakeAtMs > Date.now()) return;
    clearTimeout(this.wakeTimer);
    this.wakeAtMs = at;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = undefined;
        void this.refresh()
          .catch(() => undefined)
          .finally(() => this.changed());
      },
      Math.max(0, at - Date.now()) + 5,
    );
    this.wakeTimer.unref();
  }

  private where(): string {
    const { stream, group } = this.context.definition;
    return `stream=${stream} group=${group}`;
  }
}
