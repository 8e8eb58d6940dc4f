import { Injectable } from '@nestjs/common';
import {
  StreamInspector,
  streamKeys,
  type DeadLetter,
  type DeadLetterFilter,
  type Page,
} from '@redis-streams-alerts/nestjs-redis-streams';
import {
  DEAD_LETTER_SELECTION,
  JSON_OUTPUT,
  filterOf,
  limitOption,
  nonEmpty,
  streamId,
} from '../cli-options.js';
import { CLI_DEFAULTS, CLI_NAME } from '../cli.constants.js';
import { oneLine, textTable } from '../text-table.js';
import type { CommandDefinition } from './command-definition.interface.js';
import type { CommandOutput } from './command-output.interface.js';
import { defineCommand } from './define-command.js';

export interface DlqListArgs {
  name: 'dlq list';
  stream: string;
  limit: number;
  /** Absent: from the newest. */
  cursor?: string;
  filter: DeadLetterFilter;
  json: boolean;
}

/** `dlq list`: one page of dead letters, newest first, with the cursor of the next one. */
@Injectable()
export class DlqListCommand {
  constructor(private readonly inspector: StreamInspector) {}

  async run(args: DlqListArgs): Promise<CommandOutput> {
    const page = await this.inspector.deadLetters(
      args.stream,
      args.cursor ?? '+',
      args.limit,
      args.filter,
    );
    return { data: page, text: renderDeadLetters(args.stream, page) };
  }
}

export function renderDeadLetters(stream: string, page: Page<DeadLetter>): string {
  const where = streamKeys.deadLetter(stream);
  if (page.items.length === 0) return `No dead letters in ${where}.`;
  const table = textTable(
    ['ID', 'FAILED AT', 'GROUP', 'ATTEMPTS', 'EVENT ID', 'REASON'],
    page.items.map((letter) => [
      letter.id,
      letter.failedAt || '-',
      letter.group || '-',
      String(letter.attempts),
      letter.eventId || '-',
      oneLine(letter.error) || '-',
    ]),
  );
  const footer = page.next
    ? `Next page: --cursor ${page.next}`
    : `${page.items.length} dead letter(s) of ${where}; no more pages.`;
  return `${table}\n\n${footer}`;
}

export const dlqListCommand: CommandDefinition<DlqListArgs> = defineCommand({
  name: 'dlq list',
  summary: 'Dead letters, newest first, with their reason',
  usage: `Usage: ${CLI_NAME} dlq list [--stream ${CLI_DEFAULTS.stream}] [--limit N] [--cursor ID] [--group G] [--error TEXT] [--json]

Dead letters of a stream, newest first, with the reason each one failed. When there are more,
the last line gives the --cursor of the next page.

  --stream NAME   Stream whose dead letters to list (default ${CLI_DEFAULTS.stream})
  --limit N       How many, 1 to ${CLI_DEFAULTS.listLimit.max} (default ${CLI_DEFAULTS.listLimit.default})
  --cursor ID     Continue after this dead-letter id (the previous page's next cursor)
  --group G       Only those dead-lettered by consumer group G
  --error TEXT    Only those whose reason contains TEXT (any case)
  --json          Print JSON ({ items, next }) instead of a table`,
  options: { ...DEAD_LETTER_SELECTION, ...JSON_OUTPUT, cursor: { type: 'string' } },
  positionals: false,
  read: ({ values }, topic) => ({
    stream: nonEmpty(values.stream, '--stream', topic),
    limit: limitOption(values.limit, CLI_DEFAULTS.listLimit, topic),
    cursor: values.cursor === undefined ? undefined : streamId(values.cursor, '--cursor', topic),
    filter: filterOf(values, topic),
    json: values.json,
  }),
  runner: DlqListCommand,
});
