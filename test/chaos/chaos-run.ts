import { CLAIM_MIN_IDLE_MS } from '../faults/fault-lab.js';
import { sleep } from '../support/wait-for.js';
import { ALERTS, ORDERED, PARTITION_LEASE_MS, WAITS } from './chaos.constants.js';
import { ChaosSystem } from './chaos-system.js';
import { FaultInjector } from './fault-injector.js';
import { planFaults, type PlannedFault } from './fault-schedule.js';
import { History } from './history.js';
import { checkHistory, type CheckInput, type CheckResult } from './invariants.js';
import { isIdle, readEventIds, readRedisState, streamsOf } from './redis-state.js';
import { AlertPublisher, OrderedPublisher } from './traffic.js';

/** What `--sabotage` does behind the system's back, to show that the checker fails. */
export const SABOTAGE_KINDS = ['xack', 'xdel'] as const;
export type SabotageKind = (typeof SABOTAGE_KINDS)[number];

export interface RunOptions {
  seed: number;
  /** Length of the fault phase; traffic runs through it, then stops for the quiet period. */
  faultMs: number;
  sabotage?: SabotageKind;
  log: (line: string) => void;
}

export interface RunReport {
  seed: number;
  faultMs: number;
  plan: PlannedFault[];
  history: History;
  /** What the checker judged: the history and the end state, as saved for `--check`. */
  input: CheckInput;
  result: CheckResult;
  /** From the end of the faults until the system settled; undefined when it did not in time. */
  settledMs?: number;
  notes: string[];
  durationMs: number;
}

const STREAMS = streamsOf(ALERTS.stream, ORDERED.stream, ORDERED.partitions);

/** The longest a lease or running-marker of a stopped process lives on: then none may be left. */
const LEASES_EXPIRE_MS = Math.max(PARTITION_LEASE_MS, CLAIM_MIN_IDLE_MS * 2) + 500;

/**
 * One run: starts the system, publishes while the seed's faults are played, heals everything and
 * stops publishing, waits (bounded) until the system settles, reads what Redis was left with,
 * stops every process with SIGTERM, and checks the invariants on the whole history.
 */
export async function runChaos(options: RunOptions): Promise<RunReport> {
  const { seed, faultMs, log } = options;
  const started = Date.now();
  const history = new History(seed);
  const system = await ChaosSystem.open(history);
  history.calls = system.receiver.requests;
  let ordered: OrderedPublisher | undefined;
  try {
    const plan = planFaults(seed, faultMs, system.processes.length);
    log(
      `seed ${seed}: ${plan.length} faults over ${Math.round(faultMs / 1_000)} s on ` +
        `${system.processes.map((p) => p.name).join(', ')}`,
    );
    const alerts = new AlertPublisher(history, () => system.liveInstances());
    ordered = await OrderedPublisher.open(history, system.publisherProxy.url);
    alerts.start();
    ordered.start();

    const injector = new FaultInjector(system, history);
    await Promise.all([
      injector.play(plan, faultMs),
      options.sabotage && sabotage(system, history, options.sabotage, faultMs / 2),
    ]);
    injector.stop();
    const faultsEndedAt = Date.now();
    const notes = await system.healAll(history);
    await Promise.all([alerts.stop(), ordered.stop()]);
    log(
      `seed ${seed}: faults over after ${Math.round((faultsEndedAt - started) / 1_000)} s; settling`,
    );

    const settledAt = await settle(system, history);
    const settledMs = settledAt === undefined ? undefined : settledAt - faultsEndedAt;
    if (settledAt === undefined) {
      notes.push(`not settled: events unresolved with Redis idle, or after ${WAITS.settleMs} ms`);
    }
    const state = await system.untilRedisAnswers(() =>
      readRedisState(system.admin, STREAMS, { markers: true }),
    );
    const alertsEntries = await readEventIds(system.admin, ALERTS.stream);

    await system.terminateAll();
    await sleep(LEASES_EXPIRE_MS);
    const afterShutdown = await readRedisState(system.admin, STREAMS, { markers: true });

    const input: CheckInput = {
      publishes: history.publishes,
      ordered: history.ordered,
      calls: history.calls,
      faults: history.faults,
      exits: history.exits,
      state,
      afterShutdown,
      groups: { alerts: ALERTS.webhookGroup, ordered: ORDERED.group },
      alertsEntries,
      startedAt: started,
    };
    return {
      seed,
      faultMs,
      plan,
      history,
      input,
      result: checkHistory(input),
      settledMs,
      notes: [...notes, ...history.sabotage],
      durationMs: Date.now() - started,
    };
  } finally {
    await ordered?.close().catch(() => undefined);
    await system.close();
  }
}

/** Polls in a row that found Redis idle with events still unresolved: nothing can change any more. */
const IDLE_POLLS_TO_GIVE_UP = 6;

/**
 * Waits until every accepted alert and every confirmed ordered event was delivered or
 * dead-lettered and Redis has nothing left to do; returns when, or undefined after WAITS.settleMs,
 * or sooner once Redis stayed idle while events are unresolved (nothing pending means nothing
 * will ever be delivered: they are lost, and waiting longer only delays the report).
 */
async function settle(system: ChaosSystem, history: History): Promise<number | undefined> {
  const deadline = Date.now() + WAITS.settleMs;
  let idlePolls = 0;
  while (Date.now() < deadline) {
    try {
      const state = await readRedisState(system.admin, STREAMS);
      const resolved = new Set(state.deadLetters.map((letter) => letter.eventId));
      for (const call of history.calls) {
        if (call.status !== undefined && call.status >= 200 && call.status < 300) {
          resolved.add(call.key);
        }
      }
      const waiting =
        history.publishes.some((p) => p.outcome === 'accepted' && !resolved.has(p.key)) ||
        history.ordered.some((p) => p.ok && !resolved.has(p.eventId));
      if (!isIdle(state)) idlePolls = 0;
      else if (!waiting) return Date.now();
      else if (++idlePolls >= IDLE_POLLS_TO_GIVE_UP) return undefined;
    } catch {
      // Redis may still be loading: look again.
    }
    await sleep(500);
  }
  return undefined;
}

/**
 * Breaks the promise on purpose, to show the checker notices: while the receiver fails, the
 * entries waiting for a retry are acknowledged (`xack`) or deleted (`xdel`) behind the
 * consumers' back, so they are never delivered.
 */
async function sabotage(
  system: ChaosSystem,
  history: History,
  kind: SabotageKind,
  afterMs: number,
): Promise<void> {
  await sleep(afterMs);
  system.receiverMode = '500';
  await sleep(1_500);
  const rows = (await system.admin.xpending(
    ALERTS.stream,
    ALERTS.webhookGroup,
    '-',
    '+',
    20,
  )) as Array<[string]>;
  const ids = rows.map(([id]) => id);
  if (ids.length > 0) {
    if (kind === 'xack') await system.admin.xack(ALERTS.stream, ALERTS.webhookGroup, ...ids);
    else await system.admin.xdel(ALERTS.stream, ...ids);
  }
  history.sabotage.push(`sabotage ${kind} of ${ids.length} pending entries: ${ids.join(', ')}`);
  await sleep(1_000);
  system.receiverMode = 'ok';
}
