import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';
import { ReceiverEvents } from '../alerts/receivers/receiver-events.js';
import { ReceiverRouting } from '../alerts/receivers/receiver-routing.js';
import { RECEIVER_METRIC_PREFIX as P } from './metrics.constants.js';

/**
 * What the receivers did with alerts, beside the per-group series of the stream library (each
 * receiver is the group `alerts-<name>`, whose `delivered_total` also counts the alerts its
 * matchers skipped): alerts sent, alerts skipped, and alerts that no receiver takes. Every
 * receiver's series exist at zero from the start.
 */
@Injectable()
export class ReceiverActivityMetrics implements OnModuleInit, OnApplicationShutdown {
  private readonly delivered: Counter<'receiver'>;
  private readonly skipped: Counter<'receiver'>;
  private readonly unrouted: Counter;
  private unsubscribe?: () => void;

  constructor(
    registry: Registry,
    private readonly events: ReceiverEvents,
    private readonly routing: ReceiverRouting,
  ) {
    const registers = [registry];
    this.delivered = new Counter({
      name: `${P}delivered_total`,
      help: 'Alerts a receiver accepted (answered 2xx), by receiver.',
      labelNames: ['receiver'],
      registers,
    });
    this.skipped = new Counter({
      name: `${P}skipped_total`,
      help: "Alerts a receiver's matchers did not take, acknowledged without a call, by receiver.",
      labelNames: ['receiver'],
      registers,
    });
    this.unrouted = new Counter({
      name: 'alerts_unrouted_total',
      help: 'Alerts that no receiver of ALERTS_RECEIVERS_FILE takes (recorded as unrouted).',
      registers,
    });
  }

  onModuleInit(): void {
    for (const { name } of this.routing.receivers) {
      this.delivered.inc({ receiver: name }, 0);
      this.skipped.inc({ receiver: name }, 0);
    }
    this.unsubscribe ??= this.events.subscribe({
      delivered: (receiver) => this.delivered.inc({ receiver }),
      skipped: (receiver) => this.skipped.inc({ receiver }),
      unrouted: () => this.unrouted.inc(),
    });
  }

  onApplicationShutdown(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}
