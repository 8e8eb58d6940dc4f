import { Injectable } from '@nestjs/common';
import { DeadLetters, streamKeys } from '../../redis-streams/index.js';
import type { DlqDeleteArgs } from '../cli-args.js';
import type { CommandOutput } from './command-output.interface.js';

/** `dlq delete`: dead letters removed for good. */
@Injectable()
export class DlqDeleteCommand {
  constructor(private readonly deadLetters: DeadLetters) {}

  async run(args: DlqDeleteArgs): Promise<CommandOutput> {
    const requested = new Set(args.ids).size;
    const deleted = await this.deadLetters.delete(args.stream, [...new Set(args.ids)]);
    const absent = requested - deleted;
    return {
      data: { deleted, requested },
      text:
        `Deleted ${deleted} of ${requested} dead letter(s) from ${streamKeys.deadLetter(args.stream)}` +
        (absent > 0 ? ` (${absent} not there).` : '.'),
    };
  }
}
