import { Inject, Injectable, type INestApplication } from '@nestjs/common';
import {
  StreamHandler,
  type RedisStreamsModuleOptions,
  type StreamMessage,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { PROBE, Probe } from './stream-probe.js';
import type { StreamsTestbed } from './streams-testbed.js';

/** The one partition of `orders` that the ordered specs start with `startOrdered`. */
export const ORDERED_STREAM = 'orders:{0}';

@Injectable()
export class InOrder {
  constructor(@Inject(PROBE) private readonly probe: Probe) {}

  @StreamHandler('orders', { group: 'in-order', ordered: true })
  handle(payload: unknown, message: StreamMessage): unknown {
    return this.probe.record('in-order', payload, message);
  }
}

@Injectable()
export class InOrderOnce {
  constructor(@Inject(PROBE) private readonly probe: Probe) {}

  @StreamHandler('orders', { group: 'in-order-once', ordered: true, idempotent: true })
  handle(payload: unknown, message: StreamMessage): unknown {
    return this.probe.record('in-order-once', payload, message);
  }
}

/**
 * Starts an app on `bed` whose ordered `handlers` record to `probe`: `orders` in one partition,
 * three attempts with short backoff, consumer `a`; `options` override these.
 */
export function startOrdered(
  bed: StreamsTestbed,
  probe: Probe,
  options: Partial<RedisStreamsModuleOptions> = {},
  handlers: Array<typeof InOrder | typeof InOrderOnce> = [InOrder],
): Promise<INestApplication> {
  return bed.start(
    {
      consumerName: 'a',
      partitions: { orders: 1 },
      partitionLeaseMs: 3_000,
      handlerDefaults: { blockMs: 100, maxAttempts: 3, backoff: { baseMs: 50, maxMs: 100 } },
      ...options,
    },
    [{ provide: PROBE, useValue: probe }, ...handlers],
  );
}
