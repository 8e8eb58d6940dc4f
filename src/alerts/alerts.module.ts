import { Module } from '@nestjs/common';
import { AlertmanagerController } from './alertmanager/alertmanager.controller.js';
import { AlertmanagerIntake } from './alertmanager/alertmanager-intake.js';
import { AlertIntake } from './alert-intake.js';
import { AlertRecorderHandler } from './alert-recorder.handler.js';
import { AlertStore } from './alert-store.js';
import { AlertsStreamModule } from './alerts-stream.js';
import { AlertsController } from './alerts.controller.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { ReceiverConsumers } from './receivers/receiver-consumers.js';
import { ReceiverDelivery } from './receivers/receiver-delivery.js';
import { ReceiversModule } from './receivers/receivers.module.js';

/**
 * Alerts: the HTTP API (with Alertmanager's and Grafana's webhook intake), the alert store, the
 * stream handlers, and the alerts stream itself (its partitions and retention). Each receiver is
 * one consumer group of the `alerts` stream, made from the configuration (`ReceiverConsumers`); a
 * further handler of the stream is one more `@StreamHandler` class in `providers`, with its own
 * group.
 */
@Module({
  imports: [AlertsStreamModule, ReceiversModule],
  controllers: [AlertsController, AlertmanagerController],
  providers: [
    AlertIntake,
    AlertmanagerIntake,
    AlertStore,
    ApiKeyGuard,
    ReceiverDelivery,
    ReceiverConsumers,
    AlertRecorderHandler,
  ],
  exports: [AlertIntake, AlertStore],
})
export class AlertsModule {}
