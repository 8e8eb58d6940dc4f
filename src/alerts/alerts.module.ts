import { Module } from '@nestjs/common';
import { AlertmanagerIntake } from './alertmanager/alertmanager-intake.js';
import { AlertIntake } from './alert-intake.js';
import { AlertRecorderHandler } from './alert-recorder.handler.js';
import { AlertStore } from './alert-store.js';
import { AlertsStreamModule } from './alerts-stream.js';
import { ReceiverConsumers } from './receivers/receiver-consumers.js';
import { ReceiverDelivery } from './receivers/receiver-delivery.js';
import { ReceiversModule } from './receivers/receivers.module.js';

/**
 * Alerts without HTTP: the alert store, the intakes (our own and Alertmanager's), the stream
 * handlers, and the alerts stream itself (its partitions and retention). Each receiver is one
 * consumer group of the `alerts` stream, made from the configuration (`ReceiverConsumers`); a
 * further handler of the stream is one more `@StreamHandler` class in `providers`, with its own
 * group. The routes are in AlertsHttpModule, which the roles that serve them load on top of this
 * one.
 */
@Module({
  imports: [AlertsStreamModule, ReceiversModule],
  providers: [
    AlertIntake,
    AlertmanagerIntake,
    AlertStore,
    ReceiverDelivery,
    ReceiverConsumers,
    AlertRecorderHandler,
  ],
  exports: [AlertIntake, AlertmanagerIntake, AlertStore],
})
export class AlertsModule {}
