import type { WebhookRequest } from '../faults/recording-webhook.js';
import { isInfrastructureReason } from './dead-letter-reason.js';
import { planFaults } from './fault-schedule.js';
import type { OrderedPublish, ProcessExit, PublishAttempt } from './history.js';
import { checkHistory, type CheckInput, type InvariantName } from './invariants.js';
import type { DeadLetterEntry, RedisState } from './redis-state.js';

/**
 * The checker's own tests: a clean synthetic history passes, and each invariant fails on a history
 * that breaks it, so a green chaos run means something.
 */
const GROUPS = { alerts: 'alerts-webhook', ordered: 'orders-in-order' };

const accepted = (key: string, entryId: string, at = 1_000): PublishAttempt => ({
  key,
  process: 'alerts-1',
  at,
  ms: 5,
  status: 202,
  outcome: 'accepted',
  entryId,
  eventId: key,
});

const call = (key: string, at: number, status = 200): WebhookRequest => ({
  key,
  entryId: '',
  attempt: 1,
  at,
  status,
});

const published = (key: string, seq: number, at: number, ok = true): OrderedPublish => ({
  eventId: `o1-${key}-${seq}`,
  key,
  seq,
  at,
  ok,
  entryId: ok ? `${at}-0` : undefined,
  stream: 'orders:{0}',
});

const letter = (eventId: string, at: number, reason: string, group = GROUPS.alerts) =>
  ({
    deadLetterStream: 'alerts:dlq',
    id: `${at}-0`,
    at,
    stream: 'alerts',
    group,
    consumer: 'alerts-2',
    originalId: `${eventId}-entry`,
    eventId,
    reason,
    attempts: 8,
  }) satisfies DeadLetterEntry;

function emptyState(): RedisState {
  return {
    takenAt: 0,
    lengths: {},
    groups: [
      {
        stream: 'alerts',
        group: GROUPS.alerts,
        pending: 0,
        pendingEntries: [],
        lastDeliveredId: '9-0',
        behind: false,
      },
    ],
    deadLetters: [],
    retries: {},
    attempts: {},
    runningMarkers: {},
    leases: {},
    members: {},
  };
}

/** A history in which everything went right: two alerts, one delivered twice, three ordered events. */
function cleanInput(): CheckInput {
  return {
    publishes: [
      { ...accepted('a1-1', '1-0'), outcome: 'unavailable', status: 503, entryId: undefined },
      accepted('a1-1', '1-0', 1_100),
      accepted('a1-2', '2-0'),
    ],
    ordered: [
      published('k0', 1, 1_000),
      published('k0', 2, 1_200, false),
      published('k0', 2, 1_300),
      published('k0', 3, 1_400),
    ],
    calls: [
      call('a1-1', 2_000),
      call('a1-2', 2_000, 500),
      call('a1-2', 2_500),
      call('a1-2', 2_600),
      call('o1-k0-1', 2_000),
      call('o1-k0-2', 2_100, 500),
      call('o1-k0-2', 2_200),
      call('o1-k0-3', 2_300),
      // A stale owner's call of an event already done, arriving late: no harm to the order.
      call('o1-k0-1', 2_400),
    ],
    faults: [],
    exits: [
      { process: 'alerts-1', life: 1, at: 1_500, code: null, signal: 'SIGKILL', cause: 'killed' },
      { process: 'alerts-1', life: 2, at: 9_000, code: 0, signal: null, cause: 'terminated' },
    ],
    state: emptyState(),
    afterShutdown: { leases: {}, members: {}, runningMarkers: {} },
    groups: GROUPS,
  };
}

const broken = (input: CheckInput): InvariantName[] =>
  [...new Set(checkHistory(input).violations.map((v) => v.invariant))].sort();

describe('the chaos checker', () => {
  it('passes a history in which every promise was kept, and counts what happened', () => {
    const { violations, figures } = checkHistory(cleanInput());
    expect(violations).toEqual([]);
    expect(figures).toMatchObject({
      accepted: 2,
      delivered: 2,
      lost: 0,
      duplicates: 2,
      orderedPublished: 3,
      orderedDelivered: 3,
      outOfOrder: 0,
      publishAttempts: { accepted: 2, unavailable: 1 },
    });
  });

  it('fails on an accepted alert that was neither delivered nor dead-lettered, and says where it is', () => {
    const input = cleanInput();
    input.publishes = [...input.publishes, accepted('a1-3', '3-0')];
    input.state.groups[0].pendingEntries = [
      { id: '3-0', consumer: 'alerts-3', idleMs: 40_000, deliveries: 2 },
    ];
    input.state.groups[0].pending = 1;
    const { violations, figures } = checkHistory(input);
    expect(figures.lost).toBe(1);
    const lost = violations.find((v) => v.subject === 'a1-3');
    expect(lost?.invariant).toBe('accepted-is-delivered-or-dead-lettered');
    expect(lost?.detail).toContain('pending in alerts/alerts-webhook on alerts-3 (2 deliveries');
    expect(broken(input)).toEqual([
      'accepted-is-delivered-or-dead-lettered',
      'nothing-left-pending',
    ]);
  });

  it('accepts a dead letter for the receiver’s fault, not one for Redis’s', () => {
    const input = cleanInput();
    input.publishes = [...input.publishes, accepted('a1-3', '3-0'), accepted('a1-4', '4-0')];
    input.state.deadLetters = [
      letter(
        'a1-3',
        3_000,
        'gave up after 8 attempts: Error: webhook answered 500 Internal Server Error',
      ),
      letter(
        'a1-4',
        3_000,
        "gave up after 5 attempts: ReplyError: OOM command not allowed when used memory > 'maxmemory'.",
      ),
    ];
    const { violations, figures } = checkHistory(input);
    expect(figures).toMatchObject({ deadLettered: 2, deadLetteredInfra: 1, lost: 0 });
    expect(violations.map((v) => [v.invariant, v.subject])).toEqual([
      ['no-dead-letter-for-infrastructure', 'a1-4'],
    ]);
  });

  it.each([
    "gave up after 5 attempts: ReplyError: OOM command not allowed when used memory > 'maxmemory'.",
    "gave up after 3 attempts: ReplyError: ERR Error running script (call to f_0123): @user_script:4: OOM command not allowed when used memory > 'maxmemory'.",
    'gave up after 3 attempts: InfrastructureError: claim the eventId failed: odd reply',
    'gave up after 2 attempts: Error: Connection is closed.',
    'gave up after 2 attempts: NOSCRIPT No matching script. Please use EVAL.',
    'LOADING Redis is loading the dataset in memory',
    'gave up after 4 attempts: Error: Command timed out',
  ])('counts "%s" as infrastructure', (reason) => {
    expect(isInfrastructureReason(reason)).toBe(true);
  });

  it.each([
    'gave up after 8 attempts: Error: webhook answered 500 Internal Server Error',
    'gave up after 8 attempts: Error: webhook answered 429 Too Many Requests',
    'gave up after 8 attempts: Error: webhook did not answer: no answer within 1000 ms',
    'gave up after 8 attempts: Error: webhook did not answer: fetch failed (ECONNREFUSED)',
    'webhook answered 404 Not Found; not retrying',
    'payload failed validation: severity must be one of critical, warning, info',
    'gave up after 8 attempts: receiver answered 500',
  ])('counts "%s" as the message’s or the receiver’s', (reason) => {
    expect(isInfrastructureReason(reason)).toBe(false);
  });

  it('fails on a delivery after the dead letter, and only counts one before it', () => {
    const input = cleanInput();
    input.publishes = [...input.publishes, accepted('a1-3', '3-0'), accepted('a1-4', '4-0')];
    input.calls = [...input.calls, call('a1-3', 3_500), call('a1-4', 2_500)];
    input.state.deadLetters = [
      letter('a1-3', 3_000, 'gave up after 8 attempts: Error: webhook answered 500'),
      letter('a1-4', 3_000, 'gave up after 8 attempts: Error: webhook answered 500'),
    ];
    const { violations, figures } = checkHistory(input);
    expect(violations.map((v) => [v.invariant, v.subject])).toEqual([
      ['nothing-delivered-after-dead-letter', 'a1-3'],
    ]);
    expect(figures.deliveredAndDeadLettered).toBe(1);
    expect(checkHistory({ ...input, replayed: new Set(['a1-3']) }).violations).toEqual([]);
  });

  it('fails on anything left in Redis: pending, unread, retries, attempts, leases, members, markers', () => {
    const input = cleanInput();
    input.state.groups[0].behind = true;
    input.state.retries = { 'alerts:retries:alerts-webhook': ['2-0'] };
    input.state.attempts = { 'alerts:attempts:alerts-webhook': { '2-0': '3' } };
    input.afterShutdown = {
      leases: { 'orders:{0}:lease:orders-in-order': 'ordered-1|4' },
      members: { 'orders:{0}:members:orders-in-order': ['ordered-1'] },
      runningMarkers: { 'alerts:done:alerts-webhook:a1-2': 'running:2-0' },
    };
    const { violations } = checkHistory(input);
    expect(broken(input)).toEqual([
      'no-attempts-left',
      'no-leases-left',
      'no-retries-left',
      'nothing-left-pending',
    ]);
    expect(violations.filter((v) => v.invariant === 'no-leases-left')).toHaveLength(3);
    expect(violations.find((v) => v.invariant === 'no-attempts-left')?.detail).toContain(
      '2-0 (a1-2)=3',
    );
  });

  it('fails when an ordered key’s event is handled before an earlier one was done', () => {
    const input = cleanInput();
    // #3 is called before #2 succeeded.
    input.calls = input.calls.map((c) => (c.key === 'o1-k0-3' ? { ...c, at: 2_150 } : c));
    const { violations, figures } = checkHistory(input);
    expect(figures.outOfOrder).toBe(1);
    expect(violations.map((v) => [v.invariant, v.subject])).toEqual([
      ['ordered-per-key', 'o1-k0-2'],
    ]);
    expect(violations[0].detail).toContain('1 later event(s) of k0 were handled before');
  });

  it('blames one overtaken event once, however many later events overtook it', () => {
    const input = cleanInput();
    input.ordered = [...input.ordered, published('k0', 4, 1_500), published('k0', 5, 1_600)];
    // #2 stranded until a late takeover: #3, #4 and #5 all go first.
    input.calls = [
      ...input.calls.filter((c) => c.key !== 'o1-k0-2'),
      call('o1-k0-4', 2_310),
      call('o1-k0-5', 2_320),
      call('o1-k0-2', 9_000),
    ];
    const { violations, figures } = checkHistory(input);
    expect(figures.outOfOrder).toBe(3);
    expect(violations.map((v) => [v.invariant, v.subject])).toEqual([
      ['ordered-per-key', 'o1-k0-2'],
    ]);
    expect(violations[0].detail).toMatch(/^done at 9000, but 3 later event\(s\) of k0/);
  });

  it('fails when an ordered key’s later event is handled while an earlier one never is', () => {
    const input = cleanInput();
    input.calls = input.calls.filter((c) => c.key !== 'o1-k0-2' || c.status !== 200);
    expect(broken(input)).toEqual(['accepted-is-delivered-or-dead-lettered', 'ordered-per-key']);
  });

  it('counts an ordered event as done when it was dead-lettered', () => {
    const input = cleanInput();
    input.calls = input.calls.filter((c) => c.key !== 'o1-k0-2' || c.status !== 200);
    input.state.deadLetters = [
      letter('o1-k0-2', 2_250, 'gave up after 8 attempts: receiver answered 500', GROUPS.ordered),
    ];
    expect(checkHistory(input).violations).toEqual([]);
  });

  it('fails on a process that ended by itself or did not exit 0 on SIGTERM', () => {
    const input = cleanInput();
    const crash: ProcessExit = {
      process: 'alerts-2',
      life: 1,
      at: 2_000,
      code: 1,
      signal: null,
      cause: 'itself',
      stderrTail: 'Unhandled promise rejection',
    };
    input.exits = [...input.exits, crash, { ...crash, process: 'ordered-1', cause: 'terminated' }];
    const { violations } = checkHistory(input);
    expect(violations.map((v) => [v.invariant, v.subject])).toEqual([
      ['no-crash', 'alerts-2 (life 1)'],
      ['no-crash', 'ordered-1 (life 1)'],
    ]);
    expect(violations[0].detail).toContain('Unhandled promise rejection');
  });

  it('fails on a delivery of something never published', () => {
    const input = cleanInput();
    input.calls = [...input.calls, call('a1-99', 3_000)];
    expect(broken(input)).toEqual(['no-phantom-delivery']);
  });
});

describe('the fault plan', () => {
  it('is the same for the same seed, differs between seeds, and stays within the run', () => {
    const plan = planFaults(7, 40_000, 5);
    expect(planFaults(7, 40_000, 5)).toEqual(plan);
    expect(planFaults(8, 40_000, 5)).not.toEqual(plan);
    expect(plan.length).toBeGreaterThan(10);
    for (const fault of plan) {
      expect(fault.atMs).toBeLessThan(40_000);
      if (fault.target !== undefined) expect(fault.target).toBeLessThan(5);
    }
    expect(new Set(plan.map((f) => f.lane))).toEqual(new Set(['process', 'redis', 'receiver']));
  });
});
