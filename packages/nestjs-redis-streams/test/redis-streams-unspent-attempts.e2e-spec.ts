import type { Redis } from 'ioredis';
import { StreamEvents } from '../src/index.js';
import { claimedBatch } from '../src/consumer/own-pending.js';
import { RECLAIM, RECOVER_OWN, SERVER_TIME } from '../src/scripts/old-work.scripts.js';
import type { FaultProxy } from './support/fault-proxy.js';
import { Probe, SecondHandler } from './support/stream-probe.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { sleep, waitFor } from './support/wait-for.js';

/**
 * An attempt is spent when a handler ran (or may have: a crash), never for an entry this consumer
 * claimed and did not start: entries behind a lost reply, and entries taken back at startup that
 * wait for a slot. (Read-ahead entries on shutdown: see redis-streams-prefetch.)
 */
describe('RedisStreamsModule attempts of entries that never ran', () => {
  const bed = streamsTestbed({ faultProxy: true });
  let client: Redis;
  let proxy: FaultProxy;

  beforeAll(() => {
    ({ client, proxy } = bed);
  });

  const start = bed.probedStart([SecondHandler], {
    claimMinIdleMs: 1_000,
    handlerDefaults: { blockMs: 100, backoff: { baseMs: 50, maxMs: 100 } },
  });

  const ownedBy = async (consumer: string): Promise<number> =>
    (await client.xpending('orders', 'second', '-', '+', 100, consumer)).length;

  /** Entries delivered to a consumer that then died, in one step so no other consumer reads them first. */
  const deliverToDeadConsumer = async (count: number): Promise<void> => {
    const multi = client.multi();
    for (let i = 0; i < count; i++) {
      multi.xadd('orders', '*', 'eventId', `evt-${i}`, 'payload', JSON.stringify({ n: i }));
    }
    multi.xreadgroup('GROUP', 'second', 'dead', 'COUNT', count, 'STREAMS', 'orders', '>');
    await multi.exec();
  };

  it('does not count another attempt for entries whose reclaim reply was lost', async () => {
    const probe = new Probe();
    const app = await start(probe, 'c2', { url: proxy.url });
    let reclaimed = 0;
    app.get(StreamEvents).subscribe({ reclaimed: (event) => (reclaimed += event.count) });
    // Once the consumer has run RECLAIM (Redis knows the script), its replies are lost from here on.
    await waitFor(
      async () => ((await client.script('EXISTS', RECLAIM.sha)) as number[])[0] === 1,
      'the consumer to run RECLAIM once',
    );
    proxy.loseRepliesTo(RECLAIM.sha);
    await deliverToDeadConsumer(3);

    // Once idle for claimMinIdleMs, RECLAIM claims the three for c2 and counts the dead consumer's
    // delivery; its reply never arrives. The old code reclaimed them again a second later,
    // counting one more attempt for a claim that never reached a handler.
    await waitFor(
      async () => (await ownedBy('c2')) === 3 || probe.calls.length > 0,
      'the lost reclaim to claim the entries',
      10_000,
    );
    await proxy.heal();
    await waitFor(() => probe.calls.length === 3, 'the three entries handled', 10_000);
    await waitFor(async () => (await ownedBy('c2')) === 0, 'the acknowledgements');
    await sleep(300);
    expect(probe.calls.map((c) => c.message.eventId).sort()).toEqual(['evt-0', 'evt-1', 'evt-2']);
    expect(probe.calls.map((c) => c.message.attempt)).toEqual([2, 2, 2]);
    // Taken back by the consumer itself: no reclaim reply ever reached it.
    expect(reclaimed).toBe(0);
    expect(await client.hlen('orders:attempts:second')).toBe(0);
  });

  it('keeps the lease of its own entries taken back at startup while they wait for a slot', async () => {
    // A previous run of c1 read six entries and died.
    await client.xgroup('CREATE', 'orders', 'second', '0', 'MKSTREAM');
    for (let i = 0; i < 6; i++) {
      await client.xadd('orders', '*', 'eventId', `evt-${i}`, 'payload', JSON.stringify({ n: i }));
    }
    await client.xreadgroup('GROUP', 'second', 'c1', 'COUNT', 6, 'STREAMS', 'orders', '>');

    // One slot, 150 ms per entry: the last of six waits about 750 ms, well over the 300 ms after
    // which an idle entry counts as abandoned.
    const overrides = {
      claimMinIdleMs: 300,
      handlerDefaults: { blockMs: 100, concurrency: 1, batchSize: 6 },
    };
    const probe = new Probe();
    probe.behaviour = () => new Promise((r) => setTimeout(r, 150));
    await start(probe, 'c1', overrides);
    await waitFor(() => probe.calls.length > 0, 'c1 to take back its entries');
    const other = new Probe();
    await start(other, 'c2', overrides);

    await waitFor(() => probe.calls.length === 6, 'every entry', 5_000);
    await sleep(400);
    expect(other.calls).toEqual([]);
    // The previous run may have started them: one attempt counted, once.
    expect(probe.calls.map((c) => c.message.attempt)).toEqual([2, 2, 2, 2, 2, 2]);
    await waitFor(async () => (await ownedBy('c1')) === 0, 'the acknowledgements');
  });

  it("counts a previous run's delivery once when taking its entries back, even when the call runs twice", async () => {
    await client.xgroup('CREATE', 'orders', 'second', '0', 'MKSTREAM');
    await client.xadd('orders', '*', 'eventId', 'evt-0', 'payload', '{}');
    await client.xadd('orders', '*', 'eventId', 'evt-1', 'payload', '{}');
    // Delivered to a previous run of c1; the new run begins (reads the server's time) after.
    await client.xreadgroup('GROUP', 'second', 'c1', 'COUNT', 2, 'STREAMS', 'orders', '>');
    await sleep(5);
    const began = await SERVER_TIME.run<number>(client, ['orders'], []);
    const keys = ['orders', 'orders:retries:second', 'orders:attempts:second'];
    const args = ['second', 'c1', began, '-', 10];

    const first = claimedBatch(await RECOVER_OWN.run(client, keys, args));
    // As ioredis Cluster resends a call that was in flight when a node died.
    const again = claimedBatch(await RECOVER_OWN.run(client, keys, args));
    expect(first.entries.map((d) => d.attempt)).toEqual([2, 2]);
    expect(again.entries.map((d) => d.attempt)).toEqual([2, 2]);
    expect(await client.hvals('orders:attempts:second')).toEqual(['1', '1']);
    // What the consumer holds is left alone.
    const holding = claimedBatch(
      await RECOVER_OWN.run(client, keys, [...args, first.entries[0].entry.id]),
    );
    expect(holding.entries.map((d) => d.entry.id)).toEqual([first.entries[1].entry.id]);
  });
});
