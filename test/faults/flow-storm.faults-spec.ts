import { FlowLab, failOn } from './flow-lab.js';

/**
 * Issue 15, "Rate-limited receiver" and "Configured rate limit": a receiver that takes 5 calls a
 * second and answers 429 with `Retry-After: 1` beyond that, as chat webhooks and paging APIs do,
 * and a storm of 300 alerts. Every alert must be delivered, none dead-lettered, within 1.5 times
 * the 60 s the receiver needs at its own rate, without hammering it.
 */
const STORM = 300;
const RECEIVER_PER_SECOND = 5;
const IDEAL_MS = (STORM / RECEIVER_PER_SECOND) * 1_000;
/** 1.5 × 60 s, plus a few seconds for the POSTs themselves and the last calls' round trips. */
const FINISH_BOUND_MS = 1.5 * IDEAL_MS + 5_000;
/** How long past the bound a run is still followed, so that a slow run reports its time. */
const FOLLOW_MS = 15_000;
/** Startup of up to three instances, the storm, and the follow-up, within the test's time. */
const TEST_TIMEOUT_MS = FINISH_BOUND_MS + FOLLOW_MS + 45_000;

const rows: string[] = [];
let lab: FlowLab | undefined;

afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

afterAll(() => {
  if (rows.length > 0)
    process.stdout.write(`\nAlert storms (${STORM} alerts):\n${rows.join('\n')}\n\n`);
});

/** Posts the storm and checks the acceptance criteria; `maxRefused` is the 429s allowed. */
async function rideOutStorm(l: FlowLab, maxRefused: number): Promise<void> {
  const started = await l.storm(STORM);
  const postedMs = Date.now() - started;
  const lastAt = await l.allDelivered(FINISH_BOUND_MS + FOLLOW_MS - (Date.now() - started));
  const finishedMs = lastAt === undefined ? undefined : lastAt - started;
  const refused = await l.receiver.refused();
  const calls = (await l.receiver.calls()).length;
  const letters = await l.deadLetters();
  const delivered = await l.receiver.delivered();
  const deliveredOfStorm = [...l.accepted.keys()].filter((key) => delivered.has(key)).length;
  rows.push(
    `  ${l.name}: posted in ${postedMs} ms, delivered ${deliveredOfStorm}/${STORM} ` +
      `in ${finishedMs ?? 'never'} ms (bound ${FINISH_BOUND_MS}), ${calls} calls, ` +
      `${refused} refused (at most ${maxRefused - 1}), ${letters.length} dead-lettered`,
  );
  await failOn(l, [
    l.accepted.size !== STORM && `${l.accepted.size} of ${STORM} alerts were accepted`,
    deliveredOfStorm !== STORM && `${STORM - deliveredOfStorm} alerts were not delivered`,
    letters.length > 0 &&
      `${letters.length} alerts were dead-lettered, e.g. ${JSON.stringify(letters.slice(0, 3))}`,
    (finishedMs === undefined || finishedMs > FINISH_BOUND_MS) &&
      `the storm took ${finishedMs ?? 'more than ' + (FINISH_BOUND_MS + FOLLOW_MS)} ms, over ${FINISH_BOUND_MS}`,
    refused >= maxRefused &&
      `the receiver refused ${refused} calls (429), not fewer than ${maxRefused}`,
  ]);
}

describe('an alert storm against a rate-limited receiver', () => {
  const limited = {
    mode: 'rate-limited',
    perSecond: RECEIVER_PER_SECOND,
    retryAfterSeconds: 1,
  } as const;

  it(
    'with default settings, one instance: all delivered, none dead-lettered, fewer refusals than half the alerts',
    async () => {
      lab = await FlowLab.open('storm-1', { receiver: limited });
      await rideOutStorm(lab, STORM / 2);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'with default settings, three instances: the same, the busy signal shared by all of them',
    async () => {
      lab = await FlowLab.open('storm-3', { instances: 3, receiver: limited });
      await rideOutStorm(lab, STORM / 2);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'with ALERTS_WEBHOOK_RATE_LIMIT=5 on three instances: almost no refused calls',
    async () => {
      lab = await FlowLab.open('storm-limit', {
        instances: 3,
        receiver: limited,
        env: { ALERTS_WEBHOOK_RATE_LIMIT: String(RECEIVER_PER_SECOND) },
      });
      // The service's bucket and the receiver's both hold 5 tokens and refill 5 a second; they
      // only disagree by the jitter of the calls' round trips.
      await rideOutStorm(lab, 15);
    },
    TEST_TIMEOUT_MS,
  );
});
