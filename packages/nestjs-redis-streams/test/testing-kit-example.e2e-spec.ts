import { Injectable } from '@nestjs/common';
import {
  NonRetryableError,
  StreamHandler,
  StreamPublisher,
} from '@redis-streams-alerts/nestjs-redis-streams';
import {
  startTestRedis,
  TestStreams,
  type RedisForTests,
} from '@redis-streams-alerts/nestjs-redis-streams/testing';

interface Order {
  orderId: string;
  amount: number;
}

/** The payment gateway the handler calls; the tests give it a fake. */
@Injectable()
export class PaymentGateway {
  async charge(orderId: string, amount: number): Promise<void> {
    throw new Error(`no real gateway in this example (${orderId}, ${amount})`);
  }
}

/** The code under test: charges each published order. */
@Injectable()
export class ChargeOrders {
  constructor(private readonly payments: PaymentGateway) {}

  @StreamHandler('orders', { group: 'charge', maxAttempts: 3 })
  async handle(order: Order): Promise<void> {
    if (order.amount <= 0) throw new NonRetryableError(`amount must be positive: ${order.amount}`);
    await this.payments.charge(order.orderId, order.amount);
  }
}

/** Records charges, and fails as many times as it is told to first. */
class FakeGateway {
  charged: string[] = [];
  failuresToCome = 0;

  async charge(orderId: string): Promise<void> {
    if (this.failuresToCome-- > 0) throw new Error('gateway timeout');
    this.charged.push(orderId);
  }
}

describe('ChargeOrders', () => {
  let redis: RedisForTests;
  let gateway: FakeGateway;
  let streams: TestStreams;

  const publish = (order: Order) => streams.app.get(StreamPublisher).publish('orders', order);

  // A redis-server of the suite's own on a free port, or the one at REDIS_URL when it is set.
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(() => redis.close());

  beforeEach(async () => {
    gateway = new FakeGateway();
    streams = await TestStreams.start({
      redis,
      providers: [ChargeOrders, { provide: PaymentGateway, useValue: gateway }],
    });
  });
  afterEach(async () => {
    await streams.close();
    await redis.reset();
  });

  it('charges a published order', async () => {
    await publish({ orderId: 'o-1', amount: 42 });
    await streams.idle();

    expect(gateway.charged).toEqual(['o-1']);
    expect(streams.calls()).toMatchObject([{ group: 'charge', outcome: 'handled', attempt: 1 }]);
  });

  it('dead-letters an order that can never be charged', async () => {
    await publish({ orderId: 'o-2', amount: 0 });
    await streams.idle();

    const [letter] = await streams.deadLetters('orders');
    expect(letter).toMatchObject({ group: 'charge', attempts: 1 });
    expect(letter.error).toContain('amount must be positive');
    expect(gateway.charged).toEqual([]);
  });

  it('retries a failed charge without waiting out the backoff', async () => {
    gateway.failuresToCome = 2;
    await publish({ orderId: 'o-3', amount: 10 });
    await streams.idle({ retries: 'run-now' });

    expect(gateway.charged).toEqual(['o-3']);
    expect(streams.calls().map((call) => call.outcome)).toEqual(['failed', 'failed', 'handled']);
  });

  it('runs a scheduled retry when the test says so', async () => {
    gateway.failuresToCome = 1;
    await publish({ orderId: 'o-4', amount: 10 });
    await streams.idle({ retries: 'leave-scheduled' });
    expect(await streams.retries.scheduled()).toMatchObject([{ stream: 'orders', attempts: 1 }]);

    await streams.retries.runDue();
    await streams.idle();
    expect(gateway.charged).toEqual(['o-4']);
  });
});
