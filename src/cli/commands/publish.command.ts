import { Injectable, Logger } from '@nestjs/common';
import { toAlertContent, toAlertPayload } from '../../alerts/alert-content.js';
import { AlertStore } from '../../alerts/alert-store.js';
import { StreamPublisher, type PublishResult } from '../../redis-streams/index.js';
import type { PublishArgs } from '../cli-args.js';
import type { CommandOutput } from './command-output.interface.js';

/** `publish`: one event, appended through the service's own publisher. */
@Injectable()
export class PublishCommand {
  private readonly logger = new Logger(PublishCommand.name);

  constructor(
    private readonly publisher: StreamPublisher,
    private readonly store: AlertStore,
  ) {}

  async run(args: PublishArgs): Promise<CommandOutput> {
    const { payload } = args;
    // The same payload as POST /alerts builds, so handlers cannot tell where an alert came from.
    const body = payload.kind === 'alert' ? toAlertPayload(payload.alert) : payload.value;
    const published = await this.publisher.publish(args.stream, body, { eventId: args.eventId });
    if (payload.kind === 'alert' && !published.duplicate)
      await this.recordReceived(published, body);
    const data = { id: published.id, eventId: published.eventId };
    return {
      data,
      text: JSON.stringify(data),
      notice: published.duplicate
        ? `eventId ${published.eventId} was already published: nothing new was appended.`
        : undefined,
    };
  }

  /** As POST /alerts does: GET /alerts/:eventId finds it at once; the recorder handler also will. */
  private async recordReceived(published: PublishResult, payload: object): Promise<void> {
    try {
      await this.store.recordReceived(published.eventId, toAlertContent(payload, published.id));
    } catch (error) {
      this.logger.warn(
        `Could not record alert eventId=${published.eventId} yet: ${(error as Error).message}`,
      );
    }
  }
}
