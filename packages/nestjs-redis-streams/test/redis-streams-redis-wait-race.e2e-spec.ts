import { InfrastructureError } from '../src/index.js';
import { NonRetryableError } from '../src/index.js';
import { Probe, SecondHandler } from './support/stream-probe.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { sleep, waitFor } from './support/wait-for.js';

/**
 * An entry that waits for Redis stays owned in memory. If its consumer is cut off from Redis long
 * enough, another consumer claims the entry and settles it; the first must then not run it again
 * (found by the chaos soak, seed 20261203: a dead letter delivered 12 s after it was dead-lettered).
 */
describe('RedisStreamsModule entries that waited for Redis while another consumer settled them', () => {
  const bed = streamsTestbed({ faultProxy: true });

  const start = bed.probedStart([SecondHandler], {
    claimMinIdleMs: 1_000,
    handlerDefaults: { blockMs: 100, backoff: { baseMs: 50, maxMs: 100 } },
  });

  it('does not run an entry again once another consumer dead-lettered it', async () => {
    // `cut` reaches Redis through the proxy; its handler loses Redis and says so.
    const cut = new Probe();
    cut.behaviour = () => {
      if (cut.calls.length === 1) {
        bed.proxy.blackHole();
        throw new InfrastructureError('write the record', {
          cause: new Error('Command timed out'),
        });
      }
    };
    await start(cut, 'cut', { url: bed.proxy.url });
    await bed.client.xadd('orders', '*', 'eventId', 'evt-1', 'payload', '{"n":1}');
    await waitFor(() => cut.calls.length === 1, 'the first consumer to take the entry', 10_000);

    // `other` claims the entry once it has been idle for claimMinIdleMs and dead-letters it.
    const other = new Probe();
    other.behaviour = () => {
      throw new NonRetryableError('the receiver refuses it');
    };
    await start(other, 'other');
    await waitFor(
      async () => (await bed.client.xlen('orders:dlq')) === 1,
      'the other consumer to dead-letter the entry',
      10_000,
    );

    // Redis is back for `cut`: its wait ends, and the entry is no longer its delivery.
    await bed.proxy.heal();
    await sleep(7_000);
    expect(cut.calls).toHaveLength(1);
    expect(other.calls).toHaveLength(1);
    expect(await bed.client.xpending('orders', 'second')).toEqual([0, null, null, null]);
  }, 40_000);
});
