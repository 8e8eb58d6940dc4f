import { Injectable } from '@nestjs/common';
import {
  StreamInspector,
  streamKeys,
  type DeadLetter,
  type Page,
} from '../../redis-streams/index.js';
import type { DlqListArgs } from '../cli-args.js';
import { oneLine, textTable } from '../text-table.js';
import type { CommandOutput } from './command-output.interface.js';

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
