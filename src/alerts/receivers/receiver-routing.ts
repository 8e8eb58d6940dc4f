import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { alertsConfig } from '../../config/alerts.config.js';
import type { AlertContent } from '../alert-record.js';
import { takes, toReceiver, type Receiver } from './receiver.js';

/**
 * The configured receivers, and which of them an alert goes to. Each receiver's consumer group
 * asks whether it takes an alert; the recorder asks for the whole route, to show it on the
 * alert's record and to count alerts that no receiver takes.
 */
@Injectable()
export class ReceiverRouting {
  readonly receivers: readonly Receiver[];
  /**
   * The receivers come from ALERTS_RECEIVERS_FILE: alert records keep one status per receiver, and
   * new groups start from new entries. The one receiver of ALERTS_WEBHOOK_URL keeps the record and
   * the group start it always had.
   */
  readonly fromFile: boolean;

  constructor(@Inject(alertsConfig.KEY) config: ConfigType<typeof alertsConfig>) {
    this.receivers = config.receivers.map(toReceiver);
    this.fromFile = config.receiversFile !== undefined;
  }

  /** Names of the receivers that take the alert, in the file's order; empty: none does. */
  route(content: AlertContent): string[] {
    return this.receivers.filter((r) => takes(r, content)).map((r) => r.name);
  }

  /** The receiver that a consumer group delivers to, if it is one. */
  byGroup(group: string | undefined): Receiver | undefined {
    return this.receivers.find((receiver) => receiver.group === group);
  }
}
