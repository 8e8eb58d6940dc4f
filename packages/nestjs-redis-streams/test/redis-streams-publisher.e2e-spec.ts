import type { INestApplication } from '@nestjs/common';
import {
  PublishFailedError,
  StreamEvents,
  StreamPublisher,
  partitionStream,
  type RedisStreamsModuleOptions,
} from '../src/index.js';
import { partitionOf } from '../src/partitions.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { waitFor } from './support/wait-for.js';

/** StreamPublisher on its own: what `publish` and `publishMany` append, where, and when they fail. */
describe('StreamPublisher', () => {
  const bed = streamsTestbed();

  const start = (options: Partial<RedisStreamsModuleOptions> = {}): Promise<INestApplication> =>
    bed.start({ consumerName: 'publisher', consumersEnabled: false, ...options }, []);

  it('appends an event once per eventId, and tells listeners how many were new', async () => {
    const app = await start();
    const publisher = app.get(StreamPublisher);
    const published: Array<{ stream: string; count: number; duplicates: number }> = [];
    app.get(StreamEvents).subscribe({ published: (event) => published.push(event) });

    const first = await publisher.publish('orders', { n: 1 }, { eventId: 'order-1' });
    const again = await publisher.publish('orders', { n: 'changed' }, { eventId: 'order-1' });

    expect(first).toEqual({
      id: expect.stringMatching(/^\d+-\d+$/),
      eventId: 'order-1',
      duplicate: false,
      stream: 'orders',
    });
    // The second publish answers with the first entry and appends nothing.
    expect(again).toEqual({ ...first, duplicate: true });
    const entries = await bed.client.xrange('orders', '-', '+');
    expect(entries).toHaveLength(1);
    expect(entries[0][1].join(' ')).toContain('{"n":1}');
    expect(published).toEqual([
      { stream: 'orders', count: 1, duplicates: 0 },
      { stream: 'orders', count: 0, duplicates: 1 },
    ]);
  });

  it('answers publishMany in the order of its items, and appends them in that order', async () => {
    const app = await start();
    const results = await app.get(StreamPublisher).publishMany(
      'orders',
      Array.from({ length: 60 }, (_, i) => ({ payload: { n: i }, eventId: `e-${i}` })),
    );
    const entries = await bed.client.xrange('orders', '-', '+');
    expect(results.map((result) => result.eventId)).toEqual(entries.map(([, fields]) => fields[1]));
    expect(results.map((result) => result.id)).toEqual(entries.map(([id]) => id));
    expect(results.map((result) => result.eventId)).toEqual(
      Array.from({ length: 60 }, (_, i) => `e-${i}`),
    );
  });

  it('keeps a stream near maxLen, dropping the oldest entries', async () => {
    const app = await start();
    const publisher = app.get(StreamPublisher);
    const results = await publisher.publishMany(
      'orders',
      Array.from({ length: 300 }, (_, i) => ({ payload: { n: i } })),
      { maxLen: 10 },
    );
    // MAXLEN ~ trims whole nodes of the stream (100 entries each by default): near 10, not exactly.
    const length = await bed.client.xlen('orders');
    expect(length).toBeGreaterThanOrEqual(10);
    expect(length).toBeLessThanOrEqual(110);
    const [[newest]] = await bed.client.xrevrange('orders', '+', '-', 'COUNT', 1);
    expect(newest).toBe(results[299].id);

    await publisher.publish('audit', { n: 1 });
    await publisher.publish('audit', { n: 2 });
    expect(await bed.client.xlen('audit')).toBe(2);
  });

  it('refuses a bad stream name, eventId or maxLen before anything is sent', async () => {
    const app = await start();
    const publisher = app.get(StreamPublisher);
    await expect(publisher.publish('bad name', {})).rejects.toThrow(/Invalid stream name/);
    await expect(publisher.publish('orders', {}, { eventId: 'has space' })).rejects.toThrow(
      RangeError,
    );
    await expect(publisher.publish('orders', {}, { maxLen: 0 })).rejects.toThrow(
      /maxLen must be a positive integer/,
    );
    await expect(
      publisher.publishMany('orders', [{ payload: {} }], { maxLen: 2.5 }),
    ).rejects.toThrow(/maxLen must be a positive integer/);
    // One bad eventId refuses the whole batch: none of it is appended.
    await expect(
      publisher.publishMany('orders', [
        { payload: {}, eventId: 'fine' },
        { payload: {}, eventId: '' },
      ]),
    ).rejects.toThrow(RangeError);
    expect(await publisher.publishMany('orders', [])).toEqual([]);
    expect(await bed.client.exists('orders')).toBe(0);
  });

  it('routes an event of a partitioned stream by its partition key, else by its eventId', async () => {
    const app = await start({ partitions: { orders: 4 } });
    const publisher = app.get(StreamPublisher);
    const keyed = await Promise.all(
      ['a', 'b', 'a', 'c', 'b'].map((key, i) =>
        publisher.publish('orders', { key, i }, { partitionKey: key }),
      ),
    );
    keyed.forEach((result, i) => {
      const key = ['a', 'b', 'a', 'c', 'b'][i];
      expect(result.stream).toBe(partitionStream('orders', partitionOf(key, 4)));
    });
    const unkeyed = await publisher.publish('orders', {}, { eventId: 'no-key' });
    expect(unkeyed.stream).toBe(partitionStream('orders', partitionOf('no-key', 4)));

    // A batch over several partitions still answers in the order of its items.
    const keys = Array.from({ length: 12 }, (_, i) => `key-${i}`);
    const many = await publisher.publishMany(
      'orders',
      keys.map((key) => ({ payload: { key }, partitionKey: key })),
    );
    expect(many.map((result) => result.stream)).toEqual(
      keys.map((key) => partitionStream('orders', partitionOf(key, 4))),
    );
    expect(new Set(many.map((result) => result.stream)).size).toBeGreaterThan(1);
    for (const result of many) {
      const [[id, fields]] = await bed.client.xrange(result.stream, result.id, result.id);
      expect(id).toBe(result.id);
      expect(fields[1]).toBe(result.eventId);
    }
    expect(await bed.client.exists('orders')).toBe(0);
  });

  it('fails a publish that Redis does not answer within publishTimeoutMs; the retry appends nothing new', async () => {
    const app = await start({ publishTimeoutMs: 300 });
    const publisher = app.get(StreamPublisher);
    await publisher.publish('orders', { n: 'loads the script' });
    bed.redis.freeze();
    let error: unknown;
    const started = Date.now();
    try {
      error = await publisher.publish('orders', { n: 1 }, { eventId: 'late' }).catch((e) => e);
    } finally {
      bed.redis.thaw();
    }
    expect(error).toBeInstanceOf(PublishFailedError);
    // The client's own command timeout or the publisher's, whichever ends the wait first.
    expect((error as Error).message).toMatch(/Command timed out|did not confirm within 300 ms/);
    expect(Date.now() - started).toBeLessThan(2_000);
    // The call reached Redis before it froze: it runs once Redis is back.
    await waitFor(async () => (await bed.client.xlen('orders')) === 2, 'the late append');
    const retry = await publisher.publish('orders', { n: 1 }, { eventId: 'late' });
    expect(retry.duplicate).toBe(true);
    expect(await bed.client.xlen('orders')).toBe(2);
  });

  it('fails fast while Redis is down, and publishes again once it is back', async () => {
    const app = await start({ publishTimeoutMs: 300 });
    const publisher = app.get(StreamPublisher);
    await bed.redis.stop();
    const started = Date.now();
    await expect(publisher.publish('orders', { n: 1 })).rejects.toThrow(PublishFailedError);
    expect(Date.now() - started).toBeLessThan(2_000);
    await bed.redis.restart();
    await waitFor(
      () => publisher.publish('orders', { n: 2 }).then(() => true),
      'a publish after the restart',
    );
    expect(await bed.client.xlen('orders')).toBeGreaterThanOrEqual(1);
  });
});
