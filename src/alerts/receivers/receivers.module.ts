import { Module } from '@nestjs/common';
import { ReceiverEvents } from './receiver-events.js';
import { ReceiverRouting } from './receiver-routing.js';

/**
 * The receivers and their activity, for the alerts module that delivers to them and for the
 * metrics that count what they did. Needs the global configuration.
 */
@Module({
  providers: [ReceiverRouting, ReceiverEvents],
  exports: [ReceiverRouting, ReceiverEvents],
})
export class ReceiversModule {}
