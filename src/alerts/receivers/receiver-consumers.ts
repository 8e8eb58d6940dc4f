import type { FactoryProvider } from '@nestjs/common';
import {
  StreamHandler,
  type StreamHandlerOptions,
  type StreamMessage,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { ALERTS_STREAM } from '../alerts.constants.js';
import { AlertEventDto } from '../alert-event.dto.js';
import { ReceiverDelivery } from './receiver-delivery.js';
import { ReceiverRouting } from './receiver-routing.js';
import type { Receiver } from './receiver.js';

/**
 * The consumer group options of a receiver. Idempotent: an entry whose eventId the receiver
 * already had (a producer's retry, a replay) is not sent again. The circuit breaker: a receiver
 * that is down gets probe calls, not one retry per alert. Rate limit, deadline and call timeout
 * are the receiver's own, declared with the stream (see alerts-stream.ts).
 *
 * The receivers of a file start from new entries: a receiver added to a running system is not
 * sent the days of alerts the stream retains. `alerts-webhook` keeps the start it always had.
 */
export function receiverConsumerOptions(
  receiver: Receiver,
  fromFile: boolean,
): StreamHandlerOptions {
  return {
    group: receiver.group,
    dto: AlertEventDto,
    idempotent: true,
    circuitBreaker: true,
    startFrom: fromFile ? 'new' : 'beginning',
  };
}

/** Provides the object whose methods are the receivers' stream handlers. */
export const RECEIVER_CONSUMERS = Symbol('ReceiverConsumers');

/**
 * One stream handler per receiver, each in its own consumer group, so that a slow or refusing
 * receiver holds up only its own group. The receivers come from the configuration, so the
 * handlers are made at startup: each is a method with the handler metadata `@StreamHandler` would
 * put there, on an object of its own, which the library's discovery finds like any provider.
 */
export const receiverConsumersProvider: FactoryProvider = {
  provide: RECEIVER_CONSUMERS,
  inject: [ReceiverRouting, ReceiverDelivery],
  useFactory: (routing: ReceiverRouting, delivery: ReceiverDelivery): object => {
    class ReceiverConsumers {}
    for (const receiver of routing.receivers) {
      const handle = (alert: AlertEventDto, message: StreamMessage): Promise<void> =>
        delivery.deliver(receiver, alert, message);
      const options = receiverConsumerOptions(receiver, routing.fromFile);
      const method = `deliverTo:${receiver.name}`;
      const descriptor = { value: handle, writable: false, enumerable: false, configurable: false };
      StreamHandler(ALERTS_STREAM, options)(ReceiverConsumers.prototype, method, descriptor);
      Object.defineProperty(ReceiverConsumers.prototype, method, descriptor);
    }
    return new ReceiverConsumers();
  },
};
