import type { Redis } from 'ioredis';
import { PublishManyError, StreamPublisher, type PublishItem } from '../src/index.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { waitFor } from './support/wait-for.js';

/** What the publisher promises when a call reaches Redis twice, or part of a batch fails. */
describe('StreamPublisher, resent calls and partial batches', () => {
  const bed = streamsTestbed({ faultProxy: true });
  let client: Redis;

  beforeAll(() => {
    client = bed.client;
  });

  // A client that resends (a Cluster client after a node failed; here a standalone one with
  // autoResendUnfulfilledCommands, through a proxy that loses the reply) sends the same script
  // call twice. A generated eventId had no de-duplication key, so it was appended twice.
  it('appends a publish with a generated eventId once when the client sends its call twice', async () => {
    const app = await bed.start(
      {
        url: bed.proxy.url,
        consumerName: 'p1',
        publishTimeoutMs: 8_000,
        redis: { autoResendUnfulfilledCommands: true },
      },
      [],
    );
    const publisher = app.get(StreamPublisher);
    await publisher.publish('orders', { n: 'loads the script' });

    // The call reaches Redis, which appends; its reply is still in the proxy when the
    // connection is reset, so the client resends the call once it has reconnected.
    bed.proxy.latency(400);
    const publishing = publisher.publishMany('orders', [
      { payload: { n: 'generated' } },
      { payload: { n: 'chosen' }, eventId: 'chosen-1' },
    ]);
    await waitFor(async () => (await client.xlen('orders')) === 3, 'the first run of the call');
    bed.proxy.latency(0);
    expect(bed.proxy.reset()).toBeGreaterThan(0);
    const [generated, chosen] = await publishing;

    const entries = await client.xrange('orders', '-', '+');
    expect(entries).toHaveLength(3);
    expect(generated).toMatchObject({ id: entries[1][0], duplicate: false });
    // The chosen eventId is answered as its first (and only) publish, not as a duplicate.
    expect(chosen).toMatchObject({ id: entries[2][0], eventId: 'chosen-1', duplicate: false });
    // The resend really happened: Redis ran the script twice.
    const stats = await client.info('commandstats');
    expect(Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1])).toBeGreaterThanOrEqual(3);
  }, 30_000);

  it('answers a later publish of a generated eventId with its entry, not with the guard of its call', async () => {
    const app = await bed.start(
      { consumerName: 'p1', redis: { autoResendUnfulfilledCommands: true } },
      [],
    );
    const publisher = app.get(StreamPublisher);
    const [first, second] = await publisher.publishMany('orders', [
      { payload: { n: 1 } },
      { payload: { n: 2 } },
    ]);
    // A caller that publishes an eventId it was given (a retry of a failed item) as its own.
    const again = await publisher.publish('orders', { n: 1 }, { eventId: first.eventId });
    expect(again.id).toMatch(/^\d+-\d+$/);
    expect(again.id).not.toBe(`${first.id} 0 ${second.id} 0`);
  });

  it('keeps no resend guard where the client never sends a call twice', async () => {
    const app = await bed.start({ consumerName: 'p1' }, []);
    await app.get(StreamPublisher).publish('orders', { n: 'generated' });
    expect(await client.keys('orders:dedup:*')).toEqual([]);
  });

  it('keeps the guard of a resending client only briefly', async () => {
    const app = await bed.start(
      { consumerName: 'p1', redis: { autoResendUnfulfilledCommands: true } },
      [],
    );
    const published = await app.get(StreamPublisher).publish('orders', { n: 'generated' });
    const guards = await client.keys('orders:dedup:*');
    expect(guards).toHaveLength(1);
    expect(await client.get(guards[0])).toBe(`${published.id} 0`);
    const ttl = await client.pttl(guards[0]);
    expect(ttl).toBeGreaterThan(20_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
  });

  it('remembers a chosen eventId for the window the caller asks, else for the module window', async () => {
    const app = await bed.start({ consumerName: 'p1' }, []);
    const publisher = app.get(StreamPublisher);
    await publisher.publish('orders', { n: 1 }, { eventId: 'short', dedupWindowMs: 5_000 });
    await publisher.publishMany('orders', [{ payload: { n: 2 }, eventId: 'default' }]);
    expect(await client.pttl('orders:dedup:short')).toBeLessThanOrEqual(5_000);
    expect(await client.pttl('orders:dedup:default')).toBeGreaterThan(23 * 60 * 60 * 1000);
    await expect(
      publisher.publish('orders', {}, { eventId: 'x', dedupWindowMs: 0 }),
    ).rejects.toThrow(RangeError);
  });

  // publishMany sends 25 events per script call. One call failing rejected the whole batch, though
  // the other calls' events were appended, and the caller could not tell which.
  it('says per item which events of a batch were published when one of its calls failed', async () => {
    const app = await bed.start({ consumerName: 'p1' }, []);
    const publisher = app.get(StreamPublisher);
    // The first event of the second call has a dedup key of the wrong type: that call fails
    // before it appends anything; the first and third go through.
    await client.hset('orders:dedup:e-25', 'not', 'a string');
    const items: PublishItem[] = Array.from({ length: 75 }, (_, i) => ({
      payload: { n: i },
      eventId: `e-${i}`,
    }));

    const error = await publisher.publishMany('orders', items).then(
      () => undefined,
      (rejection: unknown) => rejection,
    );

    expect(error).toBeInstanceOf(PublishManyError);
    const { outcomes, failed, message } = error as PublishManyError;
    expect(failed).toBe(25);
    expect(message).toMatch(/Could not publish 25 of 75 events to stream "orders".*WRONGTYPE/);
    const entries = await client.xrange('orders', '-', '+');
    expect(entries).toHaveLength(50);
    const appended = new Map(entries.map(([id, fields]) => [fields[1], id]));
    outcomes.forEach((outcome, i) => {
      if (i >= 25 && i < 50) {
        expect(outcome).toMatchObject({ status: 'failed', eventId: `e-${i}` });
        expect(appended.has(`e-${i}`)).toBe(false);
      } else {
        expect(outcome).toEqual({
          status: 'published',
          result: {
            id: appended.get(`e-${i}`),
            eventId: `e-${i}`,
            duplicate: false,
            stream: 'orders',
          },
        });
      }
    });

    // The caller retries only what failed, and ends with every event once.
    await client.del('orders:dedup:e-25');
    const retried = await publisher.publishMany(
      'orders',
      outcomes.flatMap((outcome, i) => (outcome.status === 'failed' ? [items[i]] : [])),
    );
    expect(retried.every((result) => !result.duplicate)).toBe(true);
    expect(await client.xlen('orders')).toBe(75);
  });

  it('fails every item, each with its eventId, when Redis refuses the whole batch', async () => {
    const app = await bed.start({ consumerName: 'p1' }, []);
    await client.set('orders', 'not a stream');
    const error = await app
      .get(StreamPublisher)
      .publishMany('orders', [{ payload: { n: 1 } }, { payload: { n: 2 }, eventId: 'mine' }])
      .then(
        () => undefined,
        (rejection: unknown) => rejection as PublishManyError,
      );
    expect(error).toBeInstanceOf(PublishManyError);
    expect(error!.failed).toBe(2);
    expect(error!.outcomes.map((o) => o.status)).toEqual(['failed', 'failed']);
    expect(error!.outcomes[1]).toMatchObject({ eventId: 'mine' });
    expect(error!.outcomes[0]).toMatchObject({ eventId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
  });
});
