import { Injectable } from '@nestjs/common';
import { DeadLetters, streamKeys } from '@redis-streams-alerts/nestjs-redis-streams';
import { JSON_OUTPUT, STREAM, nonEmpty, streamId } from '../cli-options.js';
import { CLI_DEFAULTS, CLI_NAME } from '../cli.constants.js';
import { UsageError } from '../cli.errors.js';
import type { CommandDefinition } from './command-definition.interface.js';
import type { CommandOutput } from './command-output.interface.js';
import { defineCommand } from './define-command.js';

export interface DlqDeleteArgs {
  name: 'dlq delete';
  stream: string;
  ids: string[];
  json: boolean;
}

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

export const dlqDeleteCommand: CommandDefinition<DlqDeleteArgs> = defineCommand({
  name: 'dlq delete',
  summary: 'Delete dead letters for good',
  usage: `Usage: ${CLI_NAME} dlq delete [--stream ${CLI_DEFAULTS.stream}] ID... [--json]

Deletes dead letters for good. Ids that are not there are ignored.

  ID...           Dead-letter ids, as "dlq list" shows them
  --stream NAME   Stream whose dead letters to delete (default ${CLI_DEFAULTS.stream})
  --json          Print JSON ({ deleted, requested })`,
  options: { ...STREAM, ...JSON_OUTPUT },
  positionals: true,
  read: ({ values, positionals }, topic) => {
    if (positionals.length === 0) throw new UsageError('Give the ids to delete', topic);
    return {
      stream: nonEmpty(values.stream, '--stream', topic),
      ids: positionals.map((id) => streamId(id, 'id', topic)),
      json: values.json,
    };
  },
  runner: DlqDeleteCommand,
});
