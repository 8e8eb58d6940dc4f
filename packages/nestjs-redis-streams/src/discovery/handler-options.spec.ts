import {
  definitionsPerStream,
  resolveHandlers,
  type DiscoveredHandler,
  type HandlerSettings,
} from './handler-options.js';
import type { StreamHandlerOptions } from '../interfaces/stream-handler.interface.js';

class OrderDto {
  id = '';
}

const handle = (): void => undefined;
const found = (
  options: StreamHandlerOptions,
  name = 'Orders.handle',
  stream = 'orders',
): DiscoveredHandler => ({ name, stream, options, handle });
const settings = (overrides: Partial<HandlerSettings> = {}): HandlerSettings => ({
  partitions: { orders: 4 },
  ...overrides,
});
const resolveOne = (options: StreamHandlerOptions, overrides: Partial<HandlerSettings> = {}) =>
  resolveHandlers([found(options)], settings(overrides))[0];
/** The problems of a refused start, one per line, without the heading. */
const problemsOf = (run: () => unknown): string[] => {
  try {
    run();
  } catch (error) {
    return (error as Error).message.split('\n').slice(1);
  }
  throw new Error('expected the options to be refused');
};
const refusedOne = (options: unknown, overrides: Partial<HandlerSettings> = {}) =>
  problemsOf(() => resolveOne(options as StreamHandlerOptions, overrides));

describe('resolveHandlers', () => {
  it("runs a handler without options with the library's defaults, in a group named after it", () => {
    const definition = resolveOne({});
    expect(definition).toMatchObject({
      stream: 'orders',
      group: 'Orders.handle',
      startFrom: 'beginning',
      batchSize: 16,
      concurrency: 8,
      prefetch: 0,
      blockMs: 2_000,
      idempotencyWindowMs: undefined,
      dto: undefined,
      rawFields: undefined,
      ordered: undefined,
      handle,
    });
    expect(definition.policy.maxAttempts).toBe(5);
    expect(definition.policy.backoff).toEqual({ baseMs: 1_000, maxMs: 60_000 });
  });

  it("takes the handler's options over the module's defaults, field by field", () => {
    const definition = resolveOne(
      { group: 'mine', batchSize: 3, maxAttempts: 7, backoff: { maxMs: 900 }, startFrom: 'new' },
      {
        defaults: {
          batchSize: 30,
          concurrency: 2,
          prefetch: 5,
          blockMs: 100,
          maxAttempts: 2,
          backoff: { baseMs: 50, maxMs: 500 },
        },
      },
    );
    expect(definition).toMatchObject({
      group: 'mine',
      startFrom: 'new',
      batchSize: 3,
      concurrency: 2,
      prefetch: 5,
      blockMs: 100,
    });
    expect(definition.policy.maxAttempts).toBe(7);
    expect(definition.policy.backoff).toEqual({ baseMs: 50, maxMs: 900 });
  });

  it("remembers an idempotent handler's events for its own window, else the module's, else a day", () => {
    expect(resolveOne({ idempotent: { windowMs: 5_000 } }).idempotencyWindowMs).toBe(5_000);
    expect(resolveOne({ idempotent: true }, { dedupWindowMs: 60_000 }).idempotencyWindowMs).toBe(
      60_000,
    );
    expect(resolveOne({ idempotent: true }).idempotencyWindowMs).toBe(24 * 60 * 60 * 1_000);
    expect(resolveOne({ idempotent: false }).idempotencyWindowMs).toBeUndefined();
  });

  it('passes ordered, rawFields and dto on as given', () => {
    expect(resolveOne({ ordered: true, dto: OrderDto })).toMatchObject({
      ordered: true,
      dto: OrderDto,
    });
    expect(resolveOne({ rawFields: true })).toMatchObject({ rawFields: true, dto: undefined });
  });

  it('refuses what the types refuse, when it gets past them', () => {
    // @ts-expect-error ordered runs one call at a time per partition: no concurrency
    const concurrent: StreamHandlerOptions = { ordered: true, concurrency: 4 };
    // @ts-expect-error ordered reads no more while a partition's entries are in hand: no prefetch
    const prefetching: StreamHandlerOptions = { ordered: true, prefetch: 4 };
    // @ts-expect-error raw fields are not decoded: nothing for a dto to validate
    const validatedRaw: StreamHandlerOptions = { rawFields: true, dto: OrderDto };
    expect(refusedOne(concurrent)).toEqual([
      '  - Orders.handle on orders/Orders.handle: ordered takes no concurrency: each partition runs one handler call at a time',
    ]);
    expect(refusedOne(prefetching)).toEqual([
      '  - Orders.handle on orders/Orders.handle: ordered takes no prefetch: a partition is read again only once its entries are settled',
    ]);
    expect(refusedOne(validatedRaw)).toEqual([
      '  - Orders.handle on orders/Orders.handle: rawFields takes no dto: raw fields are not decoded, so there is no payload to validate',
    ]);
  });

  it('lets an ordered handler run with module defaults for concurrency and prefetch', () => {
    const definition = resolveOne({ ordered: true }, { defaults: { concurrency: 3, prefetch: 2 } });
    expect(definition).toMatchObject({ ordered: true, concurrency: 3, prefetch: 2 });
  });

  it.each<[string, unknown, Partial<HandlerSettings>, RegExp]>([
    ['an unknown option', { concurency: 2 }, {}, /unknown option "concurency"/],
    ['a group that is not a string', { group: 7 }, {}, /group must be a string, not 7/],
    ['a group name Redis keys cannot carry', { group: 'a b' }, {}, /Invalid group name "a b"/],
    ['a flag that is not a boolean', { ordered: 'yes' }, {}, /ordered must be true or false/],
    ['rawFields that is not a boolean', { rawFields: 1 }, {}, /rawFields must be true or false/],
    ['a dto that is not a class', { dto: {} }, {}, /dto must be a class, not \{\}/],
    ['a backoff that is not an object', { backoff: 5 }, {}, /backoff must be an object, not 5/],
    ['an unknown start', { startFrom: 'end' }, {}, /startFrom must be "beginning" or "new"/],
    ['a batch of none', { batchSize: 0 }, {}, /batchSize must be an integer of at least 1, not 0/],
    ['a fractional concurrency', { concurrency: 1.5 }, {}, /concurrency must be .* not 1\.5/],
    ['a negative prefetch', {}, { defaults: { prefetch: -1 } }, /prefetch must .* least 0, not -1/],
    ['a BLOCK of 0 (forever)', {}, { defaults: { blockMs: 0 } }, /blockMs must .* least 1, not 0/],
    ['no attempt at all', { maxAttempts: 0 }, {}, /maxAttempts must .* least 1, not 0/],
    ['a base over the most', { backoff: { baseMs: 10, maxMs: 5 } }, {}, /baseMs 10 and maxMs 5/],
    ['a window of none', { idempotent: { windowMs: 0 } }, {}, /idempotent must be true, false/],
    ['a module window of none', { idempotent: true }, { dedupWindowMs: 0 }, /dedupWindowMs must/],
    ['options that are no object', null, {}, /options must be an object, not null/],
    [
      'ordered on a stream that is not partitioned',
      { ordered: true },
      { partitions: {} },
      /ordered needs a partitioned stream; declare "orders" with partitions/,
    ],
  ])('refuses %s', (_, options, overrides, problem) => {
    const problems = refusedOne(options, overrides);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(problem);
  });

  it('refuses an ordered handler of the dead letters of a partitioned stream, which are not partitioned', () => {
    const problems = problemsOf(() =>
      resolveHandlers([found({ ordered: true }, 'Audit.read', 'orders:dlq')], settings()),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^ {2}- Audit\.read on orders:dlq\/Audit\.read: ordered needs/),
    ]);
  });

  it('refuses a stream name Redis keys cannot carry', () => {
    const problems = problemsOf(() =>
      resolveHandlers([found({ group: 'g' }, 'Odd.handle', 'or ders')], settings()),
    );
    expect(problems).toEqual([
      expect.stringMatching(/Odd\.handle on or ders\/g: Invalid stream name/),
    ]);
  });

  it('does not take a name of Object.prototype for a partitioned stream', () => {
    const problems = problemsOf(() =>
      resolveHandlers([found({ ordered: true }, 'Odd.handle', 'toString')], settings()),
    );
    expect(problems).toEqual([expect.stringMatching(/ordered needs a partitioned stream/)]);
  });

  it('lists every problem of every handler at once, each naming its handler', () => {
    const error = (() => {
      try {
        resolveHandlers(
          [
            found({ ordered: true, prefetch: 2, rawFields: true, dto: OrderDto } as never),
            found({ group: 'shared' }, 'Audit.first'),
            found({ group: 'shared', maxAttempts: -1 }, 'Audit.second'),
          ],
          settings(),
        );
      } catch (caught) {
        return caught as Error;
      }
      throw new Error('expected the options to be refused');
    })();
    expect(error.message).toBe(
      [
        '@StreamHandler options refused (4 problems):',
        '  - Orders.handle on orders/Orders.handle: ordered takes no prefetch: a partition is read again only once its entries are settled',
        '  - Orders.handle on orders/Orders.handle: rawFields takes no dto: raw fields are not decoded, so there is no payload to validate',
        '  - Audit.second on orders/shared: maxAttempts must be an integer of at least 1, not -1',
        '  - Audit.second on orders/shared: shares stream "orders" and group "shared" with Audit.first; give each its own group',
      ].join('\n'),
    );
  });

  it('lets two handlers share a group on different streams', () => {
    const definitions = resolveHandlers(
      [found({ group: 'g' }, 'A.handle', 'orders'), found({ group: 'g' }, 'B.handle', 'payments')],
      settings(),
    );
    expect(definitions.map((d) => `${d.stream}/${d.group}`)).toEqual(['orders/g', 'payments/g']);
  });
});

describe('definitionsPerStream', () => {
  const partitions = { orders: 3 };
  const definitionOf = (stream: string) =>
    resolveHandlers([found({}, 'Any.handle', stream)], settings())[0];

  it('reads a partitioned stream as its partitions, and any other as itself', () => {
    const read = definitionsPerStream([definitionOf('orders'), definitionOf('audit')], partitions);
    expect(read.map((d) => d.stream)).toEqual(['orders:{0}', 'orders:{1}', 'orders:{2}', 'audit']);
    expect(new Set(read.map((d) => d.group))).toEqual(new Set(['Any.handle']));
  });

  it("reads a partitioned stream's dead letters as those of each partition", () => {
    const read = definitionsPerStream(
      [definitionOf('orders:dlq'), definitionOf('audit:dlq')],
      partitions,
    );
    expect(read.map((d) => d.stream)).toEqual([
      'orders:{0}:dlq',
      'orders:{1}:dlq',
      'orders:{2}:dlq',
      'audit:dlq',
    ]);
  });
});
