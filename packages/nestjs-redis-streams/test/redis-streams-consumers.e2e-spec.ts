import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import {
  NonRetryableError,
  RedisStreamsStatus,
  StreamConsumers,
  StreamEvents,
  StreamPublisher,
  type HandledEvent,
  type StreamConsumerOptions,
  type StreamMessage,
} from '../src/index.js';
import { PROBE, Probe, SecondHandler, toRecord } from './support/stream-probe.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { sleep, waitFor } from './support/wait-for.js';

/** What a test registers in `onModuleInit`, before bootstrap. */
const EARLY = Symbol('early registrations');
type Early = Array<{ stream: string; options: StreamConsumerOptions }>;

/** Registers handlers that record to the probe, during module init, as a receivers file would. */
@Injectable()
class Receivers implements OnModuleInit {
  constructor(
    private readonly consumers: StreamConsumers,
    @Inject(PROBE) private readonly probe: Probe,
    @Inject(EARLY) private readonly early: Early,
  ) {}

  onModuleInit(): void {
    for (const { stream, options } of this.early) {
      this.consumers.register(stream, options, (payload, message) =>
        this.probe.record(options.group, payload, message),
      );
    }
  }
}

/** Registers a handler and withdraws it again before bootstrap. */
@Injectable()
class Withdrawn implements OnModuleInit {
  constructor(private readonly consumers: StreamConsumers) {}

  async onModuleInit(): Promise<void> {
    await this.consumers.register('orders', { group: 'withdrawn' }, () => undefined).unregister();
  }
}

/** `StreamConsumers.register`: handlers decided at run time, with the decorator's semantics. */
describe('StreamConsumers', () => {
  const bed = streamsTestbed();
  const base = {
    consumerName: 'c1',
    handlerDefaults: { blockMs: 100, backoff: { baseMs: 20, maxMs: 40 } },
  };

  const startWith = (probe: Probe, early: Early, options = {}) =>
    bed.start({ ...base, ...options }, [
      { provide: PROBE, useValue: probe },
      { provide: EARLY, useValue: early },
      Receivers,
    ]);

  const pending = async (stream: string, group: string): Promise<number> =>
    Number(((await bed.client.xpending(stream, group)) as [number])[0]);

  const deadLetters = async (stream: string) =>
    (await bed.client.xrange(`${stream}:dlq`, '-', '+')).map(([, fields]) => toRecord(fields));

  it('handles and acknowledges with a handler registered during module init, beside the decorated ones', async () => {
    const probe = new Probe();
    const handled: HandledEvent[] = [];
    const app = await bed.start(base, [
      { provide: PROBE, useValue: probe },
      { provide: EARLY, useValue: [{ stream: 'orders', options: { group: 'slack' } }] },
      Receivers,
      SecondHandler,
    ]);
    app.get(StreamEvents).subscribe({ handled: (event) => handled.push(event) });
    expect(app.get(RedisStreamsStatus).handlers()).toEqual([
      { stream: 'orders', group: 'second' },
      { stream: 'orders', group: 'slack' },
    ]);
    await app.get(StreamPublisher).publish('orders', { n: 1 });
    await waitFor(() => probe.calls.length === 2, 'both handlers to run');
    expect(probe.of('slack')[0]).toMatchObject({
      payload: { n: 1 },
      message: { stream: 'orders', group: 'slack', consumer: 'c1', attempt: 1 },
    });
    await waitFor(() => handled.some((e) => e.group === 'slack'), 'the handled event');
    expect(await pending('orders', 'slack')).toBe(0);
    const consumers = app.get(RedisStreamsStatus).consumers();
    expect(consumers.find((state) => state.group === 'slack')).toMatchObject({ running: true });
  });

  it('starts a handler registered after bootstrap at once, and retries it until it succeeds', async () => {
    const probe = new Probe();
    const app = await startWith(probe, []);
    const consumers = app.get(StreamConsumers);
    const registration = consumers.register<{ n: number }>(
      'orders',
      { group: 'flaky', maxAttempts: 3 },
      (payload, message) => {
        probe.record('flaky', payload, message);
        if (message.attempt < 3) throw new Error(`down on attempt ${message.attempt}`);
      },
    );
    expect(registration).toMatchObject({ stream: 'orders', group: 'flaky' });
    expect(app.get(RedisStreamsStatus).handlers()).toEqual([{ stream: 'orders', group: 'flaky' }]);
    expect(app.get(RedisStreamsStatus).consumers()).toHaveLength(1);

    await app.get(StreamPublisher).publish('orders', { n: 1 });
    await waitFor(() => probe.calls.length === 3, 'three attempts');
    expect(probe.calls.map((call) => call.message.attempt)).toEqual([1, 2, 3]);
    await waitFor(async () => (await pending('orders', 'flaky')) === 0, 'the acknowledgement');
    expect(await deadLetters('orders')).toEqual([]);
  });

  it('dead-letters a NonRetryableError at once, and an entry whose attempts ran out, with the reason', async () => {
    const app = await startWith(new Probe(), []);
    const consumers = app.get(StreamConsumers);
    consumers.register('orders', { group: 'refuses' }, () => {
      throw new NonRetryableError('no such receiver');
    });
    consumers.register('orders', { group: 'fails', maxAttempts: 2 }, async () => {
      throw new Error('receiver down');
    });
    await app.get(StreamPublisher).publish('orders', { n: 1 });
    await waitFor(async () => (await deadLetters('orders')).length === 2, 'two dead letters');
    const reasons = Object.fromEntries(
      (await deadLetters('orders')).map((fields) => [fields['dlq-group'], fields['dlq-error']]),
    );
    expect(reasons).toEqual({
      refuses: 'NonRetryableError: no such receiver',
      fails: 'gave up after 2 attempts: Error: receiver down',
    });
    expect(await pending('orders', 'refuses')).toBe(0);
    expect(await pending('orders', 'fails')).toBe(0);
  });

  it('runs an ordered handler one partition at a time, in publishing order per key', async () => {
    const probe = new Probe();
    const app = await startWith(probe, [], { partitions: { orders: 2 }, partitionLeaseMs: 600 });
    app
      .get(StreamConsumers)
      .register('orders', { group: 'in-order', ordered: true }, async (payload, message) => {
        probe.record('in-order', payload, message);
        await sleep(5);
      });
    expect(app.get(RedisStreamsStatus).handlers()).toEqual([
      { stream: 'orders:{0}', group: 'in-order' },
      { stream: 'orders:{1}', group: 'in-order' },
    ]);
    const items = ['a', 'b'].flatMap((key) =>
      [1, 2, 3, 4].map((n) => ({ payload: { key, n }, partitionKey: key })),
    );
    await app.get(StreamPublisher).publishMany('orders', items);
    await waitFor(() => probe.calls.length === 8, 'eight calls');
    for (const key of ['a', 'b']) {
      const calls = probe.calls.filter((c) => (c.payload as { key: string }).key === key);
      expect(calls.map((c) => (c.payload as { n: number }).n)).toEqual([1, 2, 3, 4]);
      expect(calls.every((c) => c.message.fencingToken !== undefined)).toBe(true);
    }
  });

  it('lets a running handler finish and acknowledges it before the application closes', async () => {
    let finished = false;
    const app = await startWith(new Probe(), []);
    let started = false;
    app.get(StreamConsumers).register('orders', { group: 'slow' }, async () => {
      started = true;
      await sleep(300);
      finished = true;
    });
    await app.get(StreamPublisher).publish('orders', { n: 1 });
    await waitFor(() => started, 'the handler to start');
    await bed.close(app);
    expect(finished).toBe(true);
    expect(await pending('orders', 'slow')).toBe(0);
  });

  it('refuses at bootstrap what is registered before it, with the problems of the decorated handlers, in one error', async () => {
    const early: Early = [
      { stream: 'orders', options: { group: 'second' } },
      { stream: 'orders', options: { group: 'typo', concurency: 2 } as StreamConsumerOptions },
    ];
    const error = await bed
      .start(base, [
        { provide: PROBE, useValue: new Probe() },
        { provide: EARLY, useValue: early },
        Receivers,
        SecondHandler,
      ])
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      [
        '@StreamHandler options refused (2 problems):',
        '  - StreamConsumers.register on orders/second: shares stream "orders" and group "second" with SecondHandler.handle; give each its own group',
        '  - StreamConsumers.register on orders/typo: unknown option "concurency"',
      ].join('\n'),
    );
    expect(await bed.client.exists('orders')).toBe(0);
  });

  it('refuses at once after bootstrap, and what runs goes on', async () => {
    const probe = new Probe();
    const app = await startWith(probe, [{ stream: 'orders', options: { group: 'slack' } }]);
    const consumers = app.get(StreamConsumers);
    expect(() => consumers.register('orders', { group: 'slack' }, () => undefined)).toThrow(
      'StreamConsumers.register on orders/slack: shares stream "orders" and group "slack" with StreamConsumers.register',
    );
    expect(() =>
      consumers.register(
        'orders',
        { group: 'bad', ordered: true, maxAttempts: 0 } as StreamConsumerOptions,
        () => undefined,
      ),
    ).toThrow(
      [
        '@StreamHandler options refused (2 problems):',
        `  - StreamConsumers.register on orders/bad: ordered needs a partitioned stream; declare "orders" with partitions (the module's partitions option, or forFeature)`,
        '  - StreamConsumers.register on orders/bad: maxAttempts must be an integer of at least 1, not 0',
      ].join('\n'),
    );
    expect(() =>
      consumers.register('orders', {} as StreamConsumerOptions, () => undefined),
    ).toThrow('StreamConsumers.register: options.group must name the consumer group');
    expect(app.get(RedisStreamsStatus).handlers()).toEqual([{ stream: 'orders', group: 'slack' }]);
    expect(app.get(RedisStreamsStatus).consumers()).toHaveLength(1);

    await app.get(StreamPublisher).publish('orders', { n: 1 });
    await waitFor(() => probe.calls.length === 1, 'the registered handler to run');
  });

  it('unregisters: the consumer stops, the group is free, and a new registration carries on where it left', async () => {
    const app = await startWith(new Probe(), []);
    const consumers = app.get(StreamConsumers);
    const status = app.get(RedisStreamsStatus);
    const publisher = app.get(StreamPublisher);
    const seen: Array<{ n: number; by: string }> = [];
    const record = (by: string) => (payload: unknown, _message: StreamMessage) => {
      seen.push({ n: (payload as { n: number }).n, by });
    };
    const first = consumers.register('orders', { group: 'slack' }, record('first'));
    await publisher.publish('orders', { n: 1 });
    await waitFor(() => seen.length === 1, 'the first entry');
    await waitFor(async () => (await pending('orders', 'slack')) === 0, 'its acknowledgement');

    await first.unregister();
    await first.unregister();
    expect(status.handlers()).toEqual([]);
    expect(status.consumers()).toEqual([]);
    await publisher.publish('orders', { n: 2 });
    await sleep(300);
    expect(seen).toHaveLength(1);

    consumers.register('orders', { group: 'slack' }, record('second'));
    await waitFor(() => seen.length === 2, 'the entry published meanwhile');
    expect(seen).toEqual([
      { n: 1, by: 'first' },
      { n: 2, by: 'second' },
    ]);
  });

  it('starts nothing for a registration withdrawn before bootstrap, and nothing once shutdown began', async () => {
    const app = await bed.start(base, [Withdrawn]);
    expect(app.get(RedisStreamsStatus).handlers()).toEqual([]);
    expect(app.get(RedisStreamsStatus).consumers()).toEqual([]);
    const consumers = app.get(StreamConsumers);
    await consumers.beforeApplicationShutdown();
    expect(() => consumers.register('orders', { group: 'late' }, () => undefined)).toThrow(
      'StreamConsumers.register: the application is shutting down; nothing starts now',
    );
    expect(app.get(RedisStreamsStatus).handlers()).toEqual([]);
  });
});
