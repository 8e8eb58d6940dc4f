import { Redis } from 'ioredis';
import { sleep, waitFor } from '../support/wait-for.js';
import type { WebhookRequest } from './recording-webhook.js';
import {
  CLAIM_MIN_IDLE_MS,
  FaultLab,
  check,
  STREAM,
  WEBHOOK_GROUP,
  formatTable,
  toRecord,
  type ScenarioRow,
} from './fault-lab.js';

/**
 * Issue 3, "Prove that no alert is lost": the built service runs as real processes against a
 * durable Redis (appendfsync always) behind a fault proxy; alerts are published over HTTP and by
 * direct XADD while a fault is injected; each scenario ends with every accepted alert delivered to
 * the webhook, no pending work in any consumer group, and nothing but poison dead-lettered.
 */
const rows: ScenarioRow[] = [];
let lab: FaultLab | undefined;

/** Opens the lab of one scenario; afterEach closes it, also when the scenario failed. */
async function openLab(...args: Parameters<typeof FaultLab.open>): Promise<FaultLab> {
  lab = await FaultLab.open(...args);
  return lab;
}

/** A webhook answer: 200 after `ms`. */
const after = (ms: number) => async (): Promise<number> => {
  await sleep(ms);
  return 200;
};

/** Entries of `consumer` pending in the given groups of the alerts stream. */
async function pendingOf(l: FaultLab, consumer: string, groups = [WEBHOOK_GROUP]): Promise<number> {
  let total = 0;
  for (const group of groups) {
    const pending = (await l.admin.xpending(STREAM, group, '-', '+', 1_000, consumer)) as unknown[];
    total += pending.length;
  }
  return total;
}

async function alertGroups(l: FaultLab): Promise<string[]> {
  return (await l.groups()).filter((g) => g.stream === STREAM).map((g) => g.name);
}

/** eventIds that have more than one entry in the stream (an XADD applied twice). */
async function writtenTwice(l: FaultLab): Promise<string[]> {
  const entries = (await l.admin.xrange(STREAM, '-', '+')) as Array<[string, string[]]>;
  const seen = new Map<string, number>();
  for (const [id, flat] of entries) {
    const eventId = String(toRecord(flat).eventId ?? id);
    seen.set(eventId, (seen.get(eventId) ?? 0) + 1);
  }
  return [...seen].filter(([, count]) => count > 1).map(([eventId]) => eventId);
}

/**
 * A dead instance's pending entries become claimable CLAIM_MIN_IDLE_MS after its last lease
 * extension, and are seen at the next reclaim poll (every CLAIM_MIN_IDLE_MS / 2); plus a margin
 * for one maintenance tick on a busy 2-core machine.
 */
const TAKEOVER_BOUND_MS = CLAIM_MIN_IDLE_MS * 1.5 + 1_000;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};

afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

afterAll(() => {
  if (rows.length === 0) return;
  process.stdout.write(
    '\nFault-injection summary (recover ms: from the end of the fault until every alert accepted ' +
      'before it was delivered and every entry pending at that moment was acknowledged)\n' +
      `${formatTable(rows)}\n\n`,
  );
});

describe('no accepted alert is lost', () => {
  it('1. kill -9 of an instance mid-batch, restarted under the same CONSUMER_NAME', async () => {
    const l = await openLab('s1-kill-restart');
    l.webhook.answer = after(200);
    l.traffic.startHttp(() => l.live());
    l.traffic.startXadd(l.producer);
    const victim = l.services[0];
    await waitFor(async () => (await pendingOf(l, victim.consumerName)) >= 4, 'work in flight');
    const inFlight = await pendingOf(l, victim.consumerName);
    await victim.kill9();
    await sleep(300);
    await victim.restart();
    l.markFaultEnded();
    await sleep(1_500);
    await l.verify(rows, { notes: `${inFlight} in flight at the kill` });
  }, 60_000);

  it('2. kill -9 of an instance that never comes back: the others take over its work', async () => {
    const l = await openLab('s2-kill-takeover', { instances: 3 });
    l.webhook.answer = after(200);
    l.traffic.startHttp(() => l.live());
    l.traffic.startXadd(l.producer);
    const victim = l.services[0];
    const groups = await alertGroups(l);
    await waitFor(async () => (await pendingOf(l, victim.consumerName)) >= 4, 'work in flight');
    await victim.kill9();
    const killedAt = Date.now();
    l.markFaultEnded();
    const orphaned = await pendingOf(l, victim.consumerName, groups);
    await waitFor(
      async () => (await pendingOf(l, victim.consumerName, groups)) === 0,
      'the others to claim the dead instance’s pending entries',
      15_000,
      50,
    );
    const takeoverMs = Date.now() - killedAt;
    await sleep(1_000);
    await l.verify(rows, {
      recoverMs: takeoverMs,
      notes: `${orphaned} orphaned, all claimed after ${takeoverMs} ms`,
      problems: [
        check(
          takeoverMs <= TAKEOVER_BOUND_MS,
          `the dead instance's entries were claimed after ${takeoverMs} ms, over ${TAKEOVER_BOUND_MS}`,
        ),
      ],
    });
  }, 60_000);

  it('3. SIGSTOP longer than CLAIM_MIN_IDLE_MS, then SIGCONT: the late ack does no harm', async () => {
    const l = await openLab('s3-sigstop');
    l.webhook.answer = after(200);
    l.traffic.startHttp(() => l.live());
    l.traffic.startXadd(l.producer);
    const victim = l.services[0];
    await waitFor(async () => (await pendingOf(l, victim.consumerName)) >= 4, 'work in flight');
    const frozenWith = await pendingOf(l, victim.consumerName);
    victim.freeze();
    const frozenAt = Date.now();
    const frozenForMs = CLAIM_MIN_IDLE_MS + 2_000;
    let claimedAfter: number | undefined;
    while (Date.now() - frozenAt < frozenForMs) {
      if (claimedAfter === undefined && (await pendingOf(l, victim.consumerName)) === 0) {
        claimedAfter = Date.now() - frozenAt;
      }
      await sleep(50);
    }
    victim.thaw();
    l.markFaultEnded();
    await sleep(1_500);
    await l.verify(rows, {
      notes:
        `frozen ${frozenForMs} ms with ${frozenWith} in flight, ` +
        `claimed by the other after ${claimedAfter ?? 'never'} ms`,
      problems: [
        // As in scenario 2: a frozen instance's work is taken over like a dead one's.
        check(
          claimedAfter !== undefined && claimedAfter <= TAKEOVER_BOUND_MS,
          `the frozen instance's ${frozenWith} entries were not all claimed within ` +
            `${TAKEOVER_BOUND_MS} ms (after ${claimedAfter ?? 'never'} of ${frozenForMs} ms)`,
        ),
      ],
    });
  }, 60_000);

  it('4. kill -9 of redis-server under load, restarted on its append-only file', async () => {
    const l = await openLab('s4-redis-kill9');
    l.webhook.answer = after(50);
    // Three clients: one whose request straddles the kill can take 2 s (its alert record write
    // times out, the alert itself was accepted: 202), and the others still meet the outage.
    l.traffic.startHttp(() => l.live(), { workers: 3, pauseMs: 10 });
    l.traffic.startXadd(l.producer);
    await sleep(1_500);
    await l.redis.kill();
    // Longer than PUBLISH_TIMEOUT_MS (2 s), so that POSTs during the outage must answer 503.
    await sleep(3_000);
    await l.redis.restart();
    l.markFaultEnded();
    await sleep(2_000);
    await l.traffic.stop();
    await l.verify(rows, {
      notes: `HTTP ${l.traffic.describeHttp()}; XADD failed ${l.traffic.xaddFailed}`,
      problems: [
        check(l.traffic.count(503) > 0, 'no POST was answered 503 while Redis was down'),
        // Every request got an answer: a 503 while Redis was away, never a hang.
        check(l.traffic.count(0) === 0, `${l.traffic.count(0)} POSTs got no answer at all`),
      ],
    });
  }, 60_000);

  it('5. connection resets and black-holes mid-XADD and mid-XREADGROUP', async () => {
    const l = await openLab('s5-reset-blackhole', { producerVia: 'proxy' });
    l.webhook.answer = after(20);
    l.traffic.startHttp(() => l.live(), { workers: 3, pauseMs: 10 });
    l.traffic.startXadd(l.producer, { workers: 2, pauseMs: 5 });
    await sleep(1_000);
    // Latency widens the window in which commands are in flight, then every connection is reset.
    l.proxy.latency(30);
    await sleep(500);
    const resetInFlight = l.proxy.reset();
    await l.proxy.heal();
    await sleep(1_500);
    // A partition that heals: held commands and replies go through late (after client timeouts).
    l.proxy.blackHole();
    await sleep(2_500);
    await l.proxy.heal();
    await sleep(1_000);
    // A partition during which the connections die.
    l.proxy.blackHole();
    await sleep(1_500);
    const resetInPartition = l.proxy.reset();
    await l.proxy.heal();
    l.markFaultEnded();
    await sleep(1_500);
    await l.traffic.stop();
    const twice = await writtenTwice(l);
    await l.verify(rows, {
      notes:
        `reset ${resetInFlight}+${resetInPartition} connections; ${twice.length} eventIds written twice; ` +
        `HTTP ${l.traffic.describeHttp()}`,
      problems: [
        check(resetInFlight > 0, 'the reset hit no open connection'),
        check(l.traffic.count(0) === 0, `${l.traffic.count(0)} POSTs got no answer at all`),
      ],
    });
  }, 90_000);

  it('6. Redis paused (CLIENT PAUSE ALL, DEBUG SLEEP): 503 in bounded time, not ready, then recovery', async () => {
    const publishTimeoutMs = 1_000;
    const l = await openLab('s6-redis-paused', {
      env: { PUBLISH_TIMEOUT_MS: String(publishTimeoutMs) },
    });
    l.traffic.startHttp(() => l.live());
    l.traffic.startXadd(l.producer);
    await sleep(1_000);
    const allNotReady = async (): Promise<boolean> =>
      (await Promise.all(l.services.map((s) => s.readiness(3_000)))).every((s) => s === 503);
    const allReady = async (): Promise<boolean> =>
      (await Promise.all(l.services.map((s) => s.readiness(3_000)))).every((s) => s === 200);

    await l.admin.call('CLIENT', 'PAUSE', '4000', 'ALL');
    await waitFor(allNotReady, 'readiness 503 during CLIENT PAUSE', 3_000, 100);
    await waitFor(allReady, 'readiness 200 after CLIENT PAUSE', 10_000, 100);

    const sleeper = new Redis(l.redis.port, '127.0.0.1');
    sleeper.on('error', () => undefined);
    try {
      const slept = sleeper.call('DEBUG', 'SLEEP', '3');
      await waitFor(allNotReady, 'readiness 503 during DEBUG SLEEP', 2_500, 100);
      await slept;
    } finally {
      sleeper.disconnect();
    }
    l.markFaultEnded();
    await waitFor(allReady, 'readiness 200 after DEBUG SLEEP', 10_000, 100);
    await sleep(1_500);
    await l.traffic.stop();
    // A 503 comes after the publish timeout; a 202 may take a second one (the record write).
    const bound = 2 * publishTimeoutMs + 1_500;
    const slowest = Math.max(...[...l.traffic.http.values()].map((s) => s.maxMs));
    await l.verify(rows, {
      notes: `HTTP ${l.traffic.describeHttp()}`,
      problems: [
        check(l.traffic.count(503) > 0, 'no POST was answered 503 while Redis was paused'),
        check(l.traffic.count(0) === 0, `${l.traffic.count(0)} POSTs got no answer at all`),
        check(slowest <= bound, `the slowest POST took ${slowest} ms, over ${bound}`),
      ],
    });
  }, 60_000);

  it('7. poison entries go to alerts:dlq with a reason and do not hold up good alerts', async () => {
    const l = await openLab('s7-poison');
    const poison: Array<{ what: string; fields: Array<string | Buffer>; reason: RegExp }> = [
      { what: 'no message', fields: ['severity', 'warning', 'source', 'x'], reason: /message/ },
      { what: 'empty message', fields: ['message', ''], reason: /message/ },
      { what: 'non-JSON payload', fields: ['payload', '{not json'], reason: /not valid JSON/ },
      {
        what: 'binary bytes',
        fields: ['message', Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28])],
        reason: /UTF-8/,
      },
      {
        what: 'value over 1 MiB',
        fields: ['message', 'x'.repeat(1024 * 1024 + 1)],
        reason: /over the limit/,
      },
      {
        what: 'bad severity',
        fields: ['message', 'disk full', 'severity', 'apocalyptic'],
        reason: /severity/,
      },
      { what: 'JSON of the wrong shape', fields: ['payload', '{"message":42}'], reason: /message/ },
    ];
    const poisonIds: string[] = [];
    for (const { fields } of poison) {
      poisonIds.push((await l.producer.xadd(STREAM, '*', ...fields)) as string);
    }
    const good: string[] = [];
    for (let i = 0; i < 10; i++) {
      const eventId = await l.traffic.xaddOne(l.producer);
      if (eventId) good.push(eventId);
      if ((await l.traffic.postOne(l.services[i % 2])) !== 202) throw new Error('POST failed');
    }
    l.markFaultEnded();
    const row = await l.verify(rows, { poison: poisonIds, notes: '' });
    const delays = [...l.traffic.accepted.values()].map(
      (a) => (l.webhook.deliveredAt(a.key) ?? Infinity) - a.at,
    );
    row.notes = `${poison.length} poison, good ones delivered within ${Math.max(...delays)} ms`;
    expect(Math.max(...delays)).toBeLessThan(1_500);

    const letters = (await l.deadLetters()).filter((letter) => letter.group === WEBHOOK_GROUP);
    for (const [i, { what, reason }] of poison.entries()) {
      const letter = letters.find((d) => d.originalId === poisonIds[i]);
      expect({ what, attempts: letter?.attempts, error: letter?.error }).toEqual({
        what,
        attempts: '1',
        error: expect.stringMatching(reason),
      });
    }
  }, 60_000);

  it('8. the webhook answers 503 (no Retry-After) twice per alert: busy, backing off per alert, no attempt spent, all delivered', async () => {
    // Two attempts only: a 503 that spent one would dead-letter the alert on its second.
    const l = await openLab('s8-webhook-503', { env: { RETRY_MAX_ATTEMPTS: '2' } });
    const base = 200;
    l.webhook.answer = (request: WebhookRequest) => (request.attempt <= 2 ? 503 : 200);
    l.traffic.startHttp(() => l.live(), { workers: 1, pauseMs: 60 });
    l.traffic.startXadd(l.producer, { pauseMs: 60 });
    await sleep(2_000);
    await l.traffic.stop();
    l.markFaultEnded();
    const row = await l.verify(rows);
    const firstGaps: number[] = [];
    const secondGaps: number[] = [];
    let growing = 0;
    for (const key of l.traffic.accepted.keys()) {
      const times = l.webhook.requestsOf(key).map((r) => r.at);
      expect(times.length).toBeGreaterThanOrEqual(3);
      firstGaps.push(times[1] - times[0]);
      secondGaps.push(times[2] - times[1]);
      if (times[2] - times[1] > times[1] - times[0]) growing += 1;
    }
    row.notes =
      `gap 1→2 median ${median(firstGaps)} ms (min ${Math.min(...firstGaps)}), ` +
      `2→3 median ${median(secondGaps)} ms (min ${Math.min(...secondGaps)}); ` +
      `growing for ${growing}/${firstGaps.length}`;
    // Equal jitter: the n-th wait lies in [base·2^(n-1)/2, base·2^(n-1)].
    expect(Math.min(...firstGaps)).toBeGreaterThanOrEqual(base / 2 - 10);
    expect(Math.min(...secondGaps)).toBeGreaterThanOrEqual(base - 10);
    expect(median(secondGaps)).toBeGreaterThan(median(firstGaps));
    expect(growing / firstGaps.length).toBeGreaterThanOrEqual(0.8);
  }, 60_000);

  it('9. SIGTERM mid-batch: exit 0 within SHUTDOWN_TIMEOUT_MS, nothing lost', async () => {
    const shutdownTimeoutMs = 3_000;
    const l = await openLab('s9-sigterm', { env: { ALERTS_WEBHOOK_TIMEOUT_MS: '10000' } });
    // Deliveries take 200 ms, except those that start in a short window before the SIGTERM: they
    // take longer than the shutdown may wait, so some work is still running when it gives up.
    let slowUntil = 0;
    const slow = new Set<WebhookRequest>();
    l.webhook.answer = (request) => {
      if (request.at < slowUntil) slow.add(request);
      return after(slow.has(request) ? 5_000 : 200)();
    };
    l.traffic.startHttp(() => l.live());
    l.traffic.startXadd(l.producer);
    const victim = l.services[0];
    await sleep(1_000);
    slowUntil = Date.now() + 800;
    await waitFor(async () => {
      for (const request of slow) {
        if (request.status !== undefined) continue;
        const [entry] = (await l.admin.xpending(
          STREAM,
          WEBHOOK_GROUP,
          request.entryId,
          request.entryId,
          1,
        )) as Array<[string, string]>;
        if (entry?.[1] === victim.consumerName) return true;
      }
      return false;
    }, 'a slow delivery in flight on the instance to stop');
    const inFlight = await pendingOf(l, victim.consumerName);
    const exit = await victim.terminate(shutdownTimeoutMs + 8_000);
    l.markFaultEnded();
    await sleep(1_500);
    const exitBound = shutdownTimeoutMs + 1_500;
    await l.verify(rows, {
      notes: `${inFlight} in flight (${slow.size} slow); exit code ${exit.code} after ${exit.ms} ms`,
      settleMs: 30_000,
      problems: [
        check(exit.code === 0 && exit.signal === null, `exit ${JSON.stringify(exit)}, not 0`),
        check(exit.ms <= exitBound, `the exit took ${exit.ms} ms, over ${exitBound}`),
      ],
    });
  }, 90_000);

  it('10. retention trims only what every group has received and acknowledged', async () => {
    const maxLen = 50;
    const l = await openLab('s10-retention', {
      env: {
        RETENTION_MAX_LEN: String(maxLen),
        RETENTION_INTERVAL_MS: '200',
        ALERTS_WEBHOOK_TIMEOUT_MS: '30000',
      },
    });
    // The webhook group lags: every delivery is held until the gate opens.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    l.webhook.answer = async () => {
      await gate;
      return 200;
    };
    const violations: string[] = [];
    let longest = 0;
    // The head of the stream is read first: an entry a group still needs afterwards already needed
    // it then, so finding it older than the head means it was trimmed under the group.
    const sample = async (): Promise<void> => {
      const [first] = await l.admin.xrange(STREAM, '-', '+', 'COUNT', 1);
      longest = Math.max(longest, await l.admin.xlen(STREAM));
      if (!first) return;
      const head = first[0];
      for (const group of await l.groups()) {
        if (group.stream !== STREAM) continue;
        const [count, oldest] = (await l.admin.xpending(STREAM, group.name)) as [
          number,
          string | null,
        ];
        if (Number(count) > 0 && oldest && compareStreamIds(head, oldest) > 0) {
          violations.push(`${group.name}: head ${head} is past its oldest pending entry ${oldest}`);
        }
        const unread = [...l.traffic.accepted.values()].find(
          (a) =>
            compareStreamIds(a.entryId, group.lastDeliveredId) > 0 &&
            compareStreamIds(a.entryId, head) < 0,
        );
        if (unread) {
          violations.push(
            `${group.name}: unread entry ${unread.entryId} is older than head ${head}`,
          );
        }
      }
    };
    l.traffic.startHttp(() => l.live(), { workers: 2, pauseMs: 5 });
    l.traffic.startXadd(l.producer, { pauseMs: 2 });
    const until = Date.now() + 3_000;
    while (Date.now() < until) {
      await sample();
      await sleep(100);
    }
    await l.traffic.stop();
    for (let i = 0; i < 5; i++) {
      await sample();
      await sleep(100);
    }
    open();
    l.markFaultEnded();
    const row = await l.verify(rows, {
      settleMs: 30_000,
      problems: [
        check(
          violations.length === 0,
          `trimmed past pending entries: ${violations.slice(0, 3).join('; ')}`,
        ),
        check(longest > maxLen, `the stream never grew over its cap (${longest})`),
      ],
    });
    const trimmedAfter = Date.now();
    await waitFor(
      async () => (await l.admin.xlen(STREAM)) <= maxLen,
      `the stream to be trimmed to ${maxLen} once the group caught up`,
      5_000,
      50,
    );
    row.notes =
      `cap ${maxLen}, held at up to ${longest} entries while lagging, ` +
      `trimmed to ${await l.admin.xlen(STREAM)} within ${Date.now() - trimmedAfter} ms after catch-up`;
  }, 90_000);
});

/** Orders two stream entry ids (`<ms>-<seq>`) as numbers: as strings, `9-0` would follow `10-0`. */
function compareStreamIds(a: string, b: string): number {
  const [ams, aseq] = a.split('-').map(BigInt);
  const [bms, bseq] = b.split('-').map(BigInt);
  if (ams !== bms) return ams < bms ? -1 : 1;
  return aseq === bseq ? 0 : aseq < bseq ? -1 : 1;
}
