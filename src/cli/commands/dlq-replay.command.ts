import { Injectable } from '@nestjs/common';
import { DeadLetters, streamKeys, type ReplayResult } from '../../redis-streams/index.js';
import type { DlqReplayArgs } from '../cli-args.js';
import type { CommandOutput } from './command-output.interface.js';

/** `dlq replay`: named dead letters, or those matching a filter, back to their stream. */
@Injectable()
export class DlqReplayCommand {
  constructor(private readonly deadLetters: DeadLetters) {}

  async run(args: DlqReplayArgs): Promise<CommandOutput> {
    const { selection } = args;
    const result =
      'ids' in selection
        ? await this.deadLetters.replay(args.stream, selection.ids)
        : await this.deadLetters.replayMatching(args.stream, selection.filter, selection.limit);
    return { data: result, text: renderReplay(args.stream, result) };
  }
}

export function renderReplay(stream: string, result: ReplayResult): string {
  const lines = [
    `Replayed ${result.replayed.length} dead letter(s) from ${streamKeys.deadLetter(stream)} to ${stream}.`,
    ...result.replayed.map(({ deadLetterId, newId }) => `  ${deadLetterId} -> ${newId}`),
  ];
  if (result.missing.length > 0) {
    lines.push(
      `Missing ${result.missing.length} (not, or no longer, dead letters: already replayed or deleted):`,
      ...result.missing.map((id) => `  ${id}`),
    );
  }
  return lines.join('\n');
}
