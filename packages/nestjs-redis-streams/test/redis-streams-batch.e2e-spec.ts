import {
  Inject,
  Injectable,
  UseInterceptors,
  type CallHandler,
  type ExecutionContext,
  type INestApplication,
  type NestInterceptor,
  type Type,
} from '@nestjs/common';
import type { Redis } from 'ioredis';
import { tap, type Observable } from 'rxjs';
import {
  BatchError,
  InfrastructureError,
  NonRetryableError,
  RetryLaterError,
  StreamHandler,
  StreamPublisher,
  type BatchResult,
  type RedisStreamsModuleOptions,
  type StreamHandlerOptions,
  type StreamMessage,
} from '../src/index.js';
import { OrderDto, toRecord } from './support/stream-probe.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { waitFor } from './support/wait-for.js';

interface Order {
  message: string;
}

/** One call of the batch handler. */
interface BatchCall {
  payloads: Order[];
  messages: StreamMessage[];
  at: number;
}

/** What the batch handler does is decided per test through this probe. */
const BATCH_PROBE = Symbol('batch-probe');
class BatchProbe {
  calls: BatchCall[] = [];
  /** What enhancers around the handler saw. */
  seen: string[] = [];
  running = 0;
  peak = 0;
  behaviour: (call: BatchCall) => BatchResult | void | Promise<BatchResult | void> = () =>
    undefined;

  async record(payloads: Order[], messages: StreamMessage[]): Promise<BatchResult | void> {
    const call = { payloads, messages, at: Date.now() };
    this.calls.push(call);
    this.running += 1;
    this.peak = Math.max(this.peak, this.running);
    try {
      return await this.behaviour(call);
    } finally {
      this.running -= 1;
    }
  }

  /** Every item handed to the handler, in order: its message and attempt. */
  items(): Array<{ message: string; attempt: number }> {
    return this.calls.flatMap((call) =>
      call.payloads.map((payload, i) => ({
        message: payload.message,
        attempt: call.messages[i].attempt,
      })),
    );
  }

  /** The attempts with which the item `message` reached the handler. */
  attemptsOf(message: string): number[] {
    return this.items()
      .filter((item) => item.message === message)
      .map((item) => item.attempt);
  }
}

/** A provider with one batch handler of `orders` (group `batch`) with `options`. */
function batchHandler(options: StreamHandlerOptions): Type {
  @Injectable()
  class OrdersBatchHandler {
    constructor(@Inject(BATCH_PROBE) private readonly probe: BatchProbe) {}

    @StreamHandler('orders', { group: 'batch', ...options })
    handle(payloads: Order[], messages: StreamMessage[]): Promise<BatchResult | void> {
      return this.probe.record(payloads, messages);
    }
  }
  return OrdersBatchHandler;
}

/** Records what an interceptor around a batch handler sees: the two arrays, and the result. */
@Injectable()
class SeeBatches implements NestInterceptor {
  constructor(@Inject(BATCH_PROBE) private readonly probe: BatchProbe) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const payloads = context.switchToRpc().getData<Order[]>();
    const messages = context.switchToRpc().getContext<StreamMessage[]>();
    this.probe.seen.push(`before ${payloads.length} payloads, ${messages.length} messages`);
    return next
      .handle()
      .pipe(tap((result) => this.probe.seen.push(`after ${JSON.stringify(result)}`)));
  }
}

@Injectable()
class InterceptedBatchHandler {
  constructor(@Inject(BATCH_PROBE) private readonly probe: BatchProbe) {}

  @StreamHandler('orders', { group: 'batch', batch: { maxSize: 3, maxWaitMs: 50 } })
  @UseInterceptors(SeeBatches)
  handle(payloads: Order[], messages: StreamMessage[]): Promise<BatchResult | void> {
    return this.probe.record(payloads, messages);
  }
}

/** Index of the item whose payload is `message`. */
const indexOf = (call: BatchCall, message: string): number =>
  call.payloads.findIndex((payload) => payload.message === message);

describe('RedisStreamsModule batch handlers', () => {
  const bed = streamsTestbed();
  let client: Redis;

  beforeAll(() => {
    client = bed.client;
  });

  const start = (
    probe: BatchProbe,
    options: StreamHandlerOptions,
    overrides: Partial<RedisStreamsModuleOptions> = {},
  ): Promise<INestApplication> =>
    bed.start(
      {
        consumerName: 'c1',
        claimMinIdleMs: 60_000,
        handlerDefaults: { blockMs: 100, maxAttempts: 3, backoff: { baseMs: 50, maxMs: 100 } },
        ...overrides,
      },
      [{ provide: BATCH_PROBE, useValue: probe }, batchHandler(options)],
    );

  const publish = async (app: INestApplication, ...messages: string[]): Promise<void> => {
    await app.get(StreamPublisher).publishMany(
      'orders',
      messages.map((message) => ({ payload: { message } })),
    );
  };

  const pending = async (): Promise<number> => {
    const summary = (await client.xpending('orders', 'batch')) as [number, ...unknown[]];
    return Number(summary[0]);
  };

  const deadLetters = async (): Promise<Array<Record<string, string>>> =>
    (await client.xrange('orders:dlq', '-', '+')).map(([, flat]) => toRecord(flat));

  /** Every entry settled: nothing pending, no retry waiting. */
  const settled = async (): Promise<boolean> =>
    (await pending()) === 0 && (await client.zcard('orders:retries:batch')) === 0;

  it('hands a batch over as soon as it has maxSize items, long before maxWaitMs', async () => {
    const probe = new BatchProbe();
    const app = await start(probe, { batch: { maxSize: 4, maxWaitMs: 60_000 } });
    await publish(app, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h');

    await waitFor(() => probe.calls.length === 2, 'two full batches', 5_000);
    expect(probe.calls.map((call) => call.payloads.length)).toEqual([4, 4]);
    expect(probe.items().map((item) => item.message)).toEqual([
      'a',
      'b',
      'c',
      'd',
      'e',
      'f',
      'g',
      'h',
    ]);
    // payloads[i] belongs to messages[i].
    for (const call of probe.calls) {
      expect(call.messages.map((m) => m.stream)).toEqual(['orders', 'orders', 'orders', 'orders']);
    }
    await waitFor(settled, 'the acknowledgements');
  });

  it('hands a batch over maxWaitMs after its first item, with what it has then', async () => {
    const probe = new BatchProbe();
    const app = await start(probe, { batch: { maxSize: 100, maxWaitMs: 300 } });
    const publishedAt = Date.now();
    await publish(app, 'a', 'b', 'c');

    await waitFor(() => probe.calls.length === 1, 'the batch', 5_000);
    expect(probe.calls[0].payloads.map((p) => p.message)).toEqual(['a', 'b', 'c']);
    // Its first item joined after the publish: the batch came maxWaitMs after that, not before.
    expect(probe.calls[0].at - publishedAt).toBeGreaterThanOrEqual(295);
    await waitFor(settled, 'the acknowledgements');
    expect(probe.calls).toHaveLength(1);
  });

  it('runs at most concurrency batch calls at once', async () => {
    const probe = new BatchProbe();
    let release: () => void = () => undefined;
    const opened = new Promise<void>((resolve) => (release = resolve));
    probe.behaviour = () => opened;
    const app = await start(probe, { concurrency: 2, batch: { maxSize: 2, maxWaitMs: 20 } });
    await publish(app, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h');

    await waitFor(() => probe.calls.length === 2, 'two calls');
    // concurrency × maxSize entries in flight, all in the two running calls: the rest waits in
    // the stream, and no third call starts.
    await waitFor(async () => (await pending()) === 4, 'the entries in flight');
    expect(probe.calls).toHaveLength(2);
    release();
    // Entries not read yet are not pending: wait for all eight to reach the handler too.
    await waitFor(async () => probe.items().length === 8 && (await settled()), 'every entry');
    expect(probe.peak).toBe(2);
  });

  it('acknowledges the items a returned result does not name, and retries those it names until they succeed', async () => {
    const probe = new BatchProbe();
    probe.behaviour = (call) => {
      const b = indexOf(call, 'b');
      if (b === -1 || call.messages[b].attempt > 1) return;
      return { failed: [{ index: b, error: new Error('b not written') }] };
    };
    const app = await start(probe, { batch: { maxSize: 3, maxWaitMs: 50 } });
    await publish(app, 'a', 'b', 'c');

    await waitFor(settled, 'every entry settled');
    expect(probe.attemptsOf('a')).toEqual([1]);
    expect(probe.attemptsOf('b')).toEqual([1, 2]);
    expect(probe.attemptsOf('c')).toEqual([1]);
    expect(await client.xlen('orders:dlq')).toBe(0);
    expect(await client.hlen('orders:attempts:batch')).toBe(0);
  });

  it('dead-letters an item whose attempts run out, with its own reason, and only that item', async () => {
    const probe = new BatchProbe();
    probe.behaviour = (call) => {
      const b = indexOf(call, 'b');
      if (b !== -1) return { failed: [{ id: call.messages[b].id, error: new Error('b refused') }] };
    };
    const app = await start(probe, { maxAttempts: 2, batch: { maxSize: 3, maxWaitMs: 50 } });
    await publish(app, 'a', 'b', 'c');

    await waitFor(async () => (await deadLetters()).length === 1, 'the dead letter');
    await waitFor(settled, 'every entry settled');
    const [letter] = await deadLetters();
    expect(JSON.parse(letter.payload)).toEqual({ message: 'b' });
    expect(letter['dlq-error']).toBe('gave up after 2 attempts: Error: b refused');
    expect(letter['dlq-attempts']).toBe('2');
    expect(probe.attemptsOf('a')).toEqual([1]);
    expect(probe.attemptsOf('b')).toEqual([1, 2]);
  });

  it('reads a thrown BatchError per item: a NonRetryableError dead-letters its item at once', async () => {
    const probe = new BatchProbe();
    probe.behaviour = (call) => {
      const c = indexOf(call, 'c');
      if (c !== -1) throw new BatchError([{ index: c, error: new NonRetryableError('bad row') }]);
    };
    const app = await start(probe, { batch: { maxSize: 3, maxWaitMs: 50 } });
    await publish(app, 'a', 'b', 'c');

    await waitFor(async () => (await deadLetters()).length === 1, 'the dead letter');
    await waitFor(settled, 'every entry settled');
    const [letter] = await deadLetters();
    expect(JSON.parse(letter.payload)).toEqual({ message: 'c' });
    expect(letter['dlq-error']).toBe('NonRetryableError: bad row');
    expect(letter['dlq-attempts']).toBe('1');
    expect(probe.items()).toEqual([
      { message: 'a', attempt: 1 },
      { message: 'b', attempt: 1 },
      { message: 'c', attempt: 1 },
    ]);
  });

  it('fails every item of the batch when the handler throws any other error', async () => {
    const probe = new BatchProbe();
    probe.behaviour = (call) => {
      if (call.messages[0].attempt === 1) throw new Error('database down');
    };
    const app = await start(probe, { batch: { maxSize: 3, maxWaitMs: 50 } });
    await publish(app, 'a', 'b', 'c');

    await waitFor(async () => probe.items().length === 6 && (await settled()), 'the retries');
    for (const message of ['a', 'b', 'c']) expect(probe.attemptsOf(message)).toEqual([1, 2]);
    expect(await client.xlen('orders:dlq')).toBe(0);
  });

  it('dead-letters an invalid payload (dto) with the reason, and hands the handler only the valid ones', async () => {
    const probe = new BatchProbe();
    const app = await start(probe, { dto: OrderDto, batch: { maxSize: 3, maxWaitMs: 50 } });
    await publish(app, 'a', '', 'c');

    await waitFor(async () => (await deadLetters()).length === 1, 'the dead letter');
    await waitFor(settled, 'every entry settled');
    const [letter] = await deadLetters();
    expect(JSON.parse(letter.payload)).toEqual({ message: '' });
    expect(letter['dlq-error']).toContain('payload failed validation: message');
    expect(letter['dlq-attempts']).toBe('1');
    expect(probe.calls).toHaveLength(1);
    expect(probe.calls[0].payloads).toEqual([
      { message: 'a', priority: 'low' },
      { message: 'c', priority: 'low' },
    ]);
    expect(probe.calls[0].payloads[0]).toBeInstanceOf(OrderDto);
  });

  it('runs an idempotent batch handler at most once per eventId, leaving duplicates out of the batch', async () => {
    const probe = new BatchProbe();
    await start(probe, { idempotent: true, batch: { maxSize: 10, maxWaitMs: 50 } });
    const add = (eventId: string, message: string) =>
      client.xadd('orders', '*', 'eventId', eventId, 'payload', JSON.stringify({ message }));
    await add('evt-1', 'a');
    await waitFor(async () => probe.calls.length === 1 && (await settled()), 'the first event');

    // The same event again (a producer's resend), in one batch with a new one.
    await add('evt-1', 'a');
    await add('evt-2', 'b');
    await waitFor(async () => probe.calls.length === 2 && (await settled()), 'the second batch');
    expect(probe.calls.map((call) => call.messages.map((m) => m.eventId))).toEqual([
      ['evt-1'],
      ['evt-2'],
    ]);
    expect(await client.xlen('orders:dlq')).toBe(0);
  });

  it('spends no attempt on items whose failure is Redis (wait-for-redis) or a busy destination', async () => {
    const probe = new BatchProbe();
    let thrown = false;
    probe.behaviour = (call) => {
      if (!thrown) {
        thrown = true;
        // The whole batch: a Redis connection lost under the handler.
        throw new Error('Connection is closed.');
      }
      const failed = [];
      const b = indexOf(call, 'b');
      if (b !== -1 && probe.attemptsOf('b').length < 3) {
        const cause = new Error('OOM command not allowed when used memory > maxmemory');
        failed.push({ index: b, error: new InfrastructureError('write the row', { cause }) });
      }
      const c = indexOf(call, 'c');
      if (c !== -1 && probe.attemptsOf('c').length < 3) {
        failed.push({ index: c, error: new RetryLaterError('receiver busy') });
      }
      return { failed };
    };
    const app = await start(probe, { batch: { maxSize: 3, maxWaitMs: 20 } });
    await publish(app, 'a', 'b', 'c');

    await waitFor(
      async () => probe.attemptsOf('b').length === 3 && probe.attemptsOf('c').length === 3,
      'the items to run again',
      15_000,
    );
    await waitFor(settled, 'every entry settled', 15_000);
    expect(probe.attemptsOf('a')).toEqual([1, 1]);
    expect(probe.attemptsOf('b')).toEqual([1, 1, 1]);
    expect(probe.attemptsOf('c')).toEqual([1, 1, 1]);
    expect(await client.xlen('orders:dlq')).toBe(0);
  });

  it('on shutdown hands a batch being gathered to the handler at once, and acknowledges it', async () => {
    const probe = new BatchProbe();
    const app = await start(
      probe,
      { batch: { maxSize: 100, maxWaitMs: 60_000 } },
      { shutdownTimeoutMs: 5_000 },
    );
    await publish(app, 'a', 'b', 'c');
    await waitFor(async () => (await pending()) === 3, 'the entries read into the batch');
    expect(probe.calls).toHaveLength(0);

    const closing = Date.now();
    await bed.close(app);
    expect(Date.now() - closing).toBeLessThan(5_000);
    expect(probe.calls.map((call) => call.payloads.map((p) => p.message))).toEqual([
      ['a', 'b', 'c'],
    ]);
    expect(await pending()).toBe(0);
  });

  it('runs through interceptors, which see the two arrays and the result that names failures', async () => {
    const probe = new BatchProbe();
    probe.behaviour = (call) => {
      const b = indexOf(call, 'b');
      if (b !== -1 && call.messages[b].attempt === 1)
        return { failed: [{ index: b, error: 'no' }] };
    };
    const app = await bed.start(
      {
        consumerName: 'c1',
        claimMinIdleMs: 60_000,
        handlerDefaults: { blockMs: 100, backoff: { baseMs: 50, maxMs: 100 } },
      },
      [{ provide: BATCH_PROBE, useValue: probe }, InterceptedBatchHandler],
    );
    await publish(app, 'a', 'b', 'c');

    await waitFor(async () => probe.attemptsOf('b').length === 2 && (await settled()), 'the retry');
    expect(probe.seen).toEqual([
      'before 3 payloads, 3 messages',
      'after {"failed":[{"index":1,"error":"no"}]}',
      'before 1 payloads, 1 messages',
      'after undefined',
    ]);
  });

  it('refuses batch with ordered at startup, saying why', async () => {
    const probe = new BatchProbe();
    await expect(
      start(
        probe,
        { ordered: true, batch: { maxSize: 10, maxWaitMs: 10 } } as never,
        {
          partitions: { orders: 2 },
        } as never,
      ),
    ).rejects.toThrow(
      'ordered takes no batch: a partition runs its entries one at a time, in order',
    );
  });
});
