import { Injectable } from '@nestjs/common';
import { toAlertPayload } from '../../alerts/alert-content.js';
import { AlertIntake } from '../../alerts/alert-intake.js';
import { StreamPublisher } from '../../redis-streams/index.js';
import type { PublishArgs } from '../cli-args.js';
import type { CommandOutput } from './command-output.interface.js';

/** `publish`: one event, appended through the service's own publisher. */
@Injectable()
export class PublishCommand {
  constructor(
    private readonly publisher: StreamPublisher,
    private readonly intake: AlertIntake,
  ) {}

  async run(args: PublishArgs): Promise<CommandOutput> {
    const { payload } = args;
    // An alert goes through the intake with the payload POST /alerts builds, so handlers cannot
    // tell where it came from, and is recorded at once.
    const published =
      payload.kind === 'alert'
        ? await this.intake.accept(args.stream, toAlertPayload(payload.alert), {
            eventId: args.eventId,
          })
        : await this.publisher.publish(args.stream, payload.value, { eventId: args.eventId });
    const data = { id: published.id, eventId: published.eventId };
    return {
      data,
      text: JSON.stringify(data),
      notice: published.duplicate
        ? `eventId ${published.eventId} was already published: nothing new was appended.`
        : undefined,
    };
  }
}
