import { Inject, Injectable, Logger, Scope } from '@nestjs/common';
import { REQUEST } from '@nestjs/core';
import {
  RedisStreamsStatus,
  StreamConsumers,
  StreamHandler,
  StreamPublisher,
  type StreamHandlerOptions,
  type StreamMessage,
} from '../src/index.js';
import { StreamHandlerExplorer } from '../src/discovery/stream-handler.explorer.js';
import { OrderDto, PROBE, Probe } from './support/stream-probe.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { sleep, waitFor } from './support/wait-for.js';

@Injectable()
class OrderHandlers {
  constructor(@Inject(PROBE) private readonly probe: Probe) {}

  @StreamHandler('orders')
  record(payload: unknown, message: StreamMessage): unknown {
    return this.probe.record('record', payload, message);
  }

  @StreamHandler('orders', { group: 'audit' })
  audit(payload: unknown, message: StreamMessage): unknown {
    return this.probe.record('audit', payload, message);
  }

  /** Not a handler: discovery leaves it alone. */
  describe(): string {
    return 'order handlers';
  }
}

@Injectable()
class DeadLetterReader {
  @StreamHandler('orders:dlq', { group: 'dead', rawFields: true })
  read(): void {}
}

@Injectable()
class InOrder {
  @StreamHandler('orders', { group: 'in-order', ordered: true })
  handle(): void {}
}

@Injectable()
class SameGroupA {
  @StreamHandler('orders', { group: 'same' })
  handle(): void {}
}

@Injectable()
class SameGroupB {
  @StreamHandler('orders', { group: 'same' })
  handle(): void {}
}

@Injectable()
class Impossible {
  // As plain JavaScript could write it: the types refuse both combinations.
  @StreamHandler('orders', {
    ordered: true,
    concurrency: 4,
    rawFields: true,
    dto: OrderDto,
  } as unknown as StreamHandlerOptions)
  handle(): void {}
}

@Injectable({ scope: Scope.REQUEST })
class PerRequest {
  @StreamHandler('orders', { group: 'per-request' })
  handle(): void {}
}

/** Request-scoped without saying so: it injects the request. */
@Injectable()
class NeedsRequest {
  constructor(@Inject(REQUEST) readonly request: unknown) {}

  @StreamHandler('orders', { group: 'needs-request' })
  handle(): void {}
}

@Injectable({ scope: Scope.TRANSIENT })
class PerInjection {
  constructor(@Inject(PROBE) private readonly probe: Probe) {}

  @StreamHandler('orders', { group: 'per-injection' })
  handle(payload: unknown, message: StreamMessage): unknown {
    return this.probe.record('per-injection', payload, message);
  }
}

// Jest's ESM mode has no global `jest`: it is on import.meta.
const { jest } = import.meta as unknown as { jest: typeof globalThis.jest };

/** The explorer's wiring: which handlers it finds, what it starts, what it refuses. */
describe('StreamHandlerExplorer', () => {
  const bed = streamsTestbed();
  const base = { consumerName: 'c1', handlerDefaults: { blockMs: 100 } };

  const groupsOf = async (stream: string): Promise<string[]> => {
    const groups = (await bed.client.xinfo('GROUPS', stream)) as unknown[][];
    return groups.map((fields) => String(fields[fields.indexOf('name') + 1])).sort();
  };

  it('runs every @StreamHandler method of a provider, in a group named after it unless it names one', async () => {
    const probe = new Probe();
    const app = await bed.start(base, [{ provide: PROBE, useValue: probe }, OrderHandlers]);
    expect(app.get(RedisStreamsStatus).handlers()).toEqual([
      { stream: 'orders', group: 'OrderHandlers.record' },
      { stream: 'orders', group: 'audit' },
    ]);
    await app.get(StreamPublisher).publish('orders', { n: 1 });
    await waitFor(() => probe.calls.length === 2, 'both handlers to run');
    expect(probe.calls.map((call) => `${call.handler}:${call.message.group}`).sort()).toEqual([
      'audit:audit',
      'record:OrderHandlers.record',
    ]);
    expect(await groupsOf('orders')).toEqual(['OrderHandlers.record', 'audit']);
  });

  it("reads a partitioned stream as its partitions, and its dead letters as each partition's", async () => {
    const app = await bed.start({ ...base, partitions: { orders: 2 } }, [
      DeadLetterReader,
      InOrder,
    ]);
    expect(app.get(RedisStreamsStatus).handlers()).toEqual([
      { stream: 'orders:{0}:dlq', group: 'dead' },
      { stream: 'orders:{1}:dlq', group: 'dead' },
      { stream: 'orders:{0}', group: 'in-order' },
      { stream: 'orders:{1}', group: 'in-order' },
    ]);
    // One consumer per partition's dead letters, one ordered group for the whole stream.
    const consumers = app.get(RedisStreamsStatus).consumers();
    expect(consumers.map((state) => `${state.stream}/${state.group}`)).toEqual([
      'orders/in-order',
      'orders:{0}:dlq/dead',
      'orders:{1}:dlq/dead',
    ]);
    await waitFor(async () => (await bed.client.exists('orders:{1}:dlq')) === 1, 'the groups');
    expect(await groupsOf('orders:{0}:dlq')).toEqual(['dead']);
  });

  it('refuses two handlers with one stream and group, naming both', async () => {
    await expect(bed.start(base, [SameGroupA, SameGroupB])).rejects.toThrow(
      'SameGroupB.handle on orders/same: shares stream "orders" and group "same" with SameGroupA.handle',
    );
  });

  it('refuses options that got past the types, with every problem of the handler, and starts nothing', async () => {
    const error = await bed
      .start(base, [{ provide: PROBE, useValue: new Probe() }, Impossible, OrderHandlers])
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      [
        '@StreamHandler options refused (3 problems):',
        '  - Impossible.handle on orders/Impossible.handle: ordered takes no concurrency: each partition runs one handler call at a time',
        `  - Impossible.handle on orders/Impossible.handle: ordered needs a partitioned stream; declare "orders" with partitions (the module's partitions option, or forFeature)`,
        '  - Impossible.handle on orders/Impossible.handle: rawFields takes no dto: raw fields are not decoded, so there is no payload to validate',
      ].join('\n'),
    );
    await sleep(200);
    expect(await bed.client.exists('orders')).toBe(0);
  });

  it('registers the handlers of an instance without consumers, and starts none', async () => {
    const app = await bed.start({ ...base, consumersEnabled: false }, [
      { provide: PROBE, useValue: new Probe() },
      OrderHandlers,
    ]);
    const status = app.get(RedisStreamsStatus);
    expect(status.handlers()).toHaveLength(2);
    expect(status.consumers()).toEqual([]);
    await sleep(200);
    expect(await bed.client.exists('orders')).toBe(0);
  });

  it('leaves out handlers of request-scoped and transient providers, with a warning naming each', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      const app = await bed.start(base, [
        { provide: PROBE, useValue: new Probe() },
        PerRequest,
        NeedsRequest,
        PerInjection,
        DeadLetterReader,
      ]);
      expect(app.get(RedisStreamsStatus).handlers()).toEqual([
        { stream: 'orders:dlq', group: 'dead' },
      ]);
      const warnings = warn.mock.calls.map(([message]) => String(message));
      for (const [name, scope] of [
        ['PerRequest', 'request-scoped'],
        ['NeedsRequest', 'request-scoped'],
        ['PerInjection', 'transient'],
      ]) {
        expect(warnings).toContainEqual(expect.stringContaining(`${name} is ${scope}`));
        expect(warnings).toContainEqual(expect.stringContaining(`${name}.handle`));
      }
    } finally {
      warn.mockRestore();
    }
  });

  it('hands the consumer the method itself when no guard, interceptor or filter applies', async () => {
    const probe = new Probe();
    const app = await bed.start({ ...base, consumersEnabled: false }, [
      { provide: PROBE, useValue: probe },
      OrderHandlers,
    ]);
    const [record] = app.get(StreamHandlerExplorer).explore();
    probe.behaviour = () => 'returned';
    // Called through Nest's context creator, the call would be async and answer a promise.
    expect(record.handle({ n: 1 }, {} as StreamMessage)).toBe('returned');
  });

  it('starts its consumers once, however often the application bootstraps', async () => {
    const app = await bed.start(base, [{ provide: PROBE, useValue: new Probe() }, OrderHandlers]);
    app.get(StreamConsumers).onApplicationBootstrap();
    expect(app.get(RedisStreamsStatus).consumers()).toHaveLength(2);
    expect(app.get(RedisStreamsStatus).handlers()).toHaveLength(2);
  });

  it('lets a running handler finish and acknowledges it before the application closes', async () => {
    const probe = new Probe();
    let finished = false;
    probe.behaviour = async () => {
      await sleep(300);
      finished = true;
    };
    const app = await bed.start(base, [{ provide: PROBE, useValue: probe }, OrderHandlers]);
    const status = app.get(RedisStreamsStatus);
    await app.get(StreamPublisher).publish('orders', { n: 1 });
    await waitFor(() => probe.calls.length === 2, 'both handlers to start');
    await bed.close(app);
    expect(status.shuttingDown).toBe(true);
    expect(finished).toBe(true);
    const pending = (await bed.client.xpending('orders', 'audit')) as [number];
    expect(Number(pending[0])).toBe(0);
  });
});
