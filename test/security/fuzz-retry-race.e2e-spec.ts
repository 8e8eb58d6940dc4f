import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { StreamHandler, type StreamMessage } from '@redis-streams-alerts/nestjs-redis-streams';
import { streamsTestbed } from '../support/streams-testbed.js';
import { waitFor } from '../support/wait-for.js';

const SUCCEEDED = Symbol('succeeded');
const ENTRIES = 500;
/** Far longer than the test: only the retry path, not the take-over of abandoned work, may finish them. */
const CLAIM_MIN_IDLE_MS = 120_000;

/** Fails each entry's first attempt after keeping the event loop busy, as a loaded service does. */
@Injectable()
class FailsOnceHandler {
  constructor(@Inject(SUCCEEDED) private readonly succeeded: Set<string>) {}

  @StreamHandler('retry-race', { group: 'g', maxAttempts: 10 })
  handle(_: unknown, message: StreamMessage): void {
    if (message.attempt === 1) {
      const until = Date.now() + 8;
      while (Date.now() < until) {
        // Busy: replies from Redis pile up meanwhile.
      }
      throw new Error('first attempt fails');
    }
    this.succeeded.add(message.id);
  }
}

/**
 * Found by the stream fuzz (fuzz.e2e-spec.ts), where entries that failed with a retryable error
 * sat pending for CLAIM_MIN_IDLE_MS before anything happened to them.
 *
 * A regression test (fixed in StreamConsumer.dispatch, `afterCurrent`): when a retry falls due while the failed
 * attempt's task has not yet left `owned` (its `finally` runs some microtasks after
 * SCHEDULE_RETRY's reply), TAKE_DUE_RETRIES removes the id from the retries set and XCLAIMs it,
 * then `dispatch` returns early because `owned` still has the id. The entry is then pending, in no
 * retry set and run by nobody, until the abandoned-work reclaim after CLAIM_MIN_IDLE_MS, which
 * also counts one more attempt. It was about 1 in 10 retried entries here.
 */
describe('retries under load', () => {
  const bed = streamsTestbed({ appendOnly: false });
  let client: Redis;
  const succeeded = new Set<string>();

  beforeAll(async () => {
    client = bed.client;
    await bed.start(
      {
        consumerName: 'c1',
        claimMinIdleMs: CLAIM_MIN_IDLE_MS,
        handlerDefaults: {
          blockMs: 100,
          concurrency: 16,
          batchSize: 16,
          backoff: { baseMs: 1, maxMs: 2 },
        },
      },
      [{ provide: SUCCEEDED, useValue: succeeded }, FailsOnceHandler],
    );
  });

  it('runs the retry of every entry that failed once, promptly', async () => {
    // One at a time, so that new reads, failures and due retries keep overlapping.
    for (let i = 0; i < ENTRIES; i++) await client.xadd('retry-race', '*', 'n', String(i));

    await waitFor(() => succeeded.size === ENTRIES, 'every retry', 15_000, 100).catch(
      () => undefined,
    );
    const stranded = (await client.xpending('retry-race', 'g', '-', '+', 5)) as unknown[];
    expect({
      succeeded: succeeded.size,
      stillPending: stranded,
      waitingRetries: await client.zcard('retry-race:retries:g'),
    }).toEqual({ succeeded: ENTRIES, stillPending: [], waitingRetries: 0 });
  }, 30_000);
});
