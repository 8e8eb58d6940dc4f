import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import {
  StreamConsumers,
  type StreamConsumerOptions,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { ALERTS_STREAM } from '../alerts.constants.js';
import { AlertEventDto } from '../alert-event.dto.js';
import { ReceiverDelivery } from './receiver-delivery.js';
import { ReceiverRouting } from './receiver-routing.js';
import type { Receiver } from './receiver.js';

/**
 * The consumer group options of a receiver. Idempotent: an entry whose eventId the receiver
 * already had (a producer's retry, a replay) is not sent again. The circuit breaker: a receiver
 * that is down gets probe calls, not one retry per alert. Rate limit and deadline are the
 * receiver's own, declared with the stream (see alerts-stream.ts).
 *
 * The receivers of a file start from new entries: a receiver added to a running system is not
 * sent the days of alerts the stream retains. `alerts-webhook` keeps the start it always had.
 */
export function receiverConsumerOptions(
  receiver: Receiver,
  fromFile: boolean,
): StreamConsumerOptions {
  return {
    group: receiver.group,
    dto: AlertEventDto,
    idempotent: true,
    circuitBreaker: true,
    startFrom: fromFile ? 'new' : 'beginning',
  };
}

/**
 * One stream handler per receiver, each in its own consumer group, so that a slow or refusing
 * receiver holds up only its own group. The receivers come from the configuration, so they are
 * registered at startup (before bootstrap: checked and started with the decorated handlers).
 */
@Injectable()
export class ReceiverConsumers implements OnModuleInit {
  private readonly logger = new Logger(ReceiverConsumers.name);

  constructor(
    private readonly consumers: StreamConsumers,
    private readonly routing: ReceiverRouting,
    private readonly delivery: ReceiverDelivery,
  ) {}

  onModuleInit(): void {
    for (const receiver of this.routing.receivers) {
      this.consumers.register<AlertEventDto>(
        ALERTS_STREAM,
        receiverConsumerOptions(receiver, this.routing.fromFile),
        (alert, message) => this.delivery.deliver(receiver, alert, message),
      );
      // Name, format and matchers only: the URL, headers and keys are secrets.
      const takes = receiver.matchers.map(String).join(', ') || 'every alert';
      this.logger.log(
        `Receiver ${receiver.name} (${receiver.format}, group ${receiver.group}) takes ${takes}`,
      );
    }
  }
}
