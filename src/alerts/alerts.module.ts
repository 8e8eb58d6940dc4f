import { Module } from '@nestjs/common';
import { AlertIntake } from './alert-intake.js';
import { AlertRecorderHandler } from './alert-recorder.handler.js';
import { AlertStore } from './alert-store.js';
import { AlertsStreamModule } from './alerts-stream.js';
import { WebhookDeliveryHandler } from './webhook-delivery.handler.js';

/**
 * Alerts without HTTP: the alert store, the intake, the stream handlers, and the alerts stream
 * itself (its partitions and retention). A further handler of the `alerts` stream is one more
 * `@StreamHandler` class in `providers`, with its own group. The routes are in AlertsHttpModule,
 * which the roles that serve them load on top of this one.
 */
@Module({
  imports: [AlertsStreamModule],
  providers: [AlertIntake, AlertStore, WebhookDeliveryHandler, AlertRecorderHandler],
  exports: [AlertIntake, AlertStore],
})
export class AlertsModule {}
