import { resolveHandlers } from '../discovery/handler-options.js';
import type { StreamHandlerOptions } from '../interfaces/stream-handler.interface.js';
import { resolveBatch } from './batch-settings.js';

const resolve = (options: unknown) =>
  resolveHandlers(
    [
      {
        name: 'Orders.handle',
        stream: 'orders',
        options: options as StreamHandlerOptions,
        handle: () => undefined,
      },
    ],
    { partitions: { events: 4 } },
  )[0];

const refusal = (options: unknown): string => {
  try {
    resolve(options);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the options to be refused');
};

describe('resolveBatch', () => {
  it('has no batch settings without the option', () => {
    expect(resolveBatch(undefined)).toEqual({ problems: [] });
  });

  it('takes maxSize of at least 1 and maxWaitMs of at least 0', () => {
    expect(resolveBatch({ maxSize: 1, maxWaitMs: 0 })).toEqual({
      batch: { maxSize: 1, maxWaitMs: 0 },
      problems: [],
    });
  });

  it('lists every problem of the option', () => {
    expect(resolveBatch({ maxSize: 0, maxWaitMs: -1, linger: 5 }).problems).toEqual([
      'unknown batch option "linger"',
      'batch.maxSize must be an integer of at least 1, not 0',
      'batch.maxWaitMs must be an integer of at least 0, not -1',
    ]);
    expect(resolveBatch({ maxSize: 2.5 }).problems).toEqual([
      'batch.maxSize must be an integer of at least 1, not 2.5',
      'batch.maxWaitMs must be an integer of at least 0, not undefined',
    ]);
    expect(resolveBatch(10).problems).toEqual(['batch must be { maxSize, maxWaitMs }, not 10']);
    expect(resolveBatch([10]).problems).toHaveLength(1);
  });
});

describe('resolveHandlers with batch', () => {
  it('gives a batch handler its batch settings, and reads a whole batch at a time', () => {
    const definition = resolve({ batch: { maxSize: 50, maxWaitMs: 20 } });
    expect(definition.batch).toEqual({ maxSize: 50, maxWaitMs: 20 });
    expect(definition.batchSize).toBe(50);
    // concurrency counts batch calls, with the same default as any handler's calls.
    expect(definition.concurrency).toBe(8);
  });

  it("keeps the handler's own batchSize", () => {
    expect(resolve({ batchSize: 10, batch: { maxSize: 50, maxWaitMs: 20 } }).batchSize).toBe(10);
  });

  it('leaves handlers without batch as they are', () => {
    const definition = resolve({});
    expect(definition.batch).toBeUndefined();
    expect(definition.batchSize).toBe(16);
  });

  it('refuses batch with ordered at startup, saying why', () => {
    const message = refusal({ ordered: true, batch: { maxSize: 10, maxWaitMs: 5 } });
    expect(message).toContain(
      'ordered takes no batch: a partition runs its entries one at a time, in order',
    );
  });

  it('refuses a malformed batch option at startup', () => {
    expect(refusal({ batch: { maxSize: 0, maxWaitMs: 5 } })).toContain(
      'Orders.handle on orders/Orders.handle: batch.maxSize must be an integer of at least 1, not 0',
    );
  });
});
