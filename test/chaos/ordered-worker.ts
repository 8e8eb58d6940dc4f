import 'reflect-metadata';
import { Controller, Get, Injectable, Logger, Module, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  RedisStreamsModule,
  StreamHandler,
  type StreamMessage,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { ORDERED, PARTITION_LEASE_MS, RETRIES } from './chaos.constants.js';

/**
 * A process of the chaos run with one `ordered: true` handler: it POSTs each event of the
 * partitioned `orders` stream to the recording receiver, which keeps the order it saw them in.
 * Configured like the service, by environment: REDIS_URL, CONSUMER_NAME, PORT, RECEIVER_URL.
 * GET /health/ready answers 200 once it runs; SIGTERM closes it and exits 0.
 */
const env = process.env;
const receiverUrl = String(env.RECEIVER_URL);
const shutdownTimeoutMs = 3_000;

@Injectable()
class InOrderDelivery {
  @StreamHandler(ORDERED.stream, { group: ORDERED.group, ordered: true })
  async deliver(payload: unknown, message: StreamMessage): Promise<void> {
    const response = await fetch(receiverUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': message.eventId,
        'x-fencing-token': String(message.fencingToken),
      },
      body: JSON.stringify({ id: message.id, partition: message.partition, payload }),
      signal: AbortSignal.timeout(RETRIES.webhookTimeoutMs),
    });
    await response.body?.cancel().catch(() => undefined);
    if (response.status < 200 || response.status >= 300) {
      throw new Error(`receiver answered ${response.status}`);
    }
  }
}

@Controller('health')
class ReadyController {
  @Get('ready')
  ready(): { status: string } {
    return { status: 'ok' };
  }
}

@Module({
  imports: [
    RedisStreamsModule.forRoot({
      url: String(env.REDIS_URL),
      consumerName: String(env.CONSUMER_NAME),
      partitions: { [ORDERED.stream]: ORDERED.partitions },
      partitionLeaseMs: PARTITION_LEASE_MS,
      shutdownTimeoutMs,
      handlerDefaults: {
        blockMs: 200,
        maxAttempts: RETRIES.maxAttempts,
        backoff: { baseMs: RETRIES.backoffBaseMs, maxMs: RETRIES.backoffMaxMs },
      },
    }),
  ],
  controllers: [ReadyController],
  providers: [InOrderDelivery],
})
class OrderedWorkerModule {}

async function main(): Promise<void> {
  const levels: LogLevel[] = ['error', 'warn'];
  const app = await NestFactory.create(OrderedWorkerModule, {
    logger: levels,
    abortOnError: false,
  });
  const logger = new Logger('OrderedWorker');
  let closing = false;
  process.on('SIGTERM', () => {
    if (closing) return;
    closing = true;
    setTimeout(() => {
      logger.error('Shutdown did not finish in time: exiting');
      process.exit(1);
    }, shutdownTimeoutMs + 5_000).unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error(`Shutdown failed: ${String(error)}`);
        process.exit(1);
      },
    );
  });
  await app.listen(Number(env.PORT), '127.0.0.1');
}

main().catch((error: unknown) => {
  process.stderr.write(`Startup failed: ${String(error)}\n`);
  process.exit(1);
});
