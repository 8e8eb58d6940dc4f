import { Injectable } from '@nestjs/common';
import {
  DeadLetters,
  streamKeys,
  type DeadLetterFilter,
  type ReplayResult,
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
import { UsageError } from '../cli.errors.js';
import type { CommandDefinition } from './command-definition.interface.js';
import type { CommandOutput } from './command-output.interface.js';
import { defineCommand } from './define-command.js';

/** Either the dead letters named, or those matching a filter (`{}` for all), at most `limit`. */
export type ReplaySelection = { ids: string[] } | { filter: DeadLetterFilter; limit: number };

export interface DlqReplayArgs {
  name: 'dlq replay';
  stream: string;
  selection: ReplaySelection;
  json: boolean;
}

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

export const dlqReplayCommand: CommandDefinition<DlqReplayArgs> = defineCommand({
  name: 'dlq replay',
  summary: 'Replay dead letters to their stream (idempotent)',
  usage: `Usage: ${CLI_NAME} dlq replay [--stream ${CLI_DEFAULTS.stream}] (ID... | --all | --group G | --error TEXT) [--limit N] [--json]

Appends dead letters to their original stream again (without their dlq-* fields, same eventId)
and removes them from the dead letters, atomically: replaying an id twice appends it once, and
the second time lists it as missing. Every consumer group of the stream receives it again.

  ID...           Dead-letter ids, as "dlq list" shows them
  --all           Every dead letter of the stream (at most --limit)
  --group G       Those dead-lettered by consumer group G
  --error TEXT    Those whose reason contains TEXT (any case); combines with --group
  --limit N       With --all, --group or --error: at most N, the newest, replayed oldest first
                  (1 to ${CLI_DEFAULTS.replayLimit.max}, default ${CLI_DEFAULTS.replayLimit.default})
  --stream NAME   Stream to replay to (default ${CLI_DEFAULTS.stream})
  --json          Print JSON ({ replayed: [{ deadLetterId, newId }], missing })`,
  options: { ...DEAD_LETTER_SELECTION, ...JSON_OUTPUT, all: { type: 'boolean' } },
  positionals: true,
  read: ({ values, positionals }, topic) => {
    const filtered = values.all || values.group !== undefined || values.error !== undefined;
    if (positionals.length > 0 && (filtered || values.limit !== undefined)) {
      throw new UsageError(
        'Give either dead-letter ids or --all/--group/--error (with --limit), not both',
        topic,
      );
    }
    if (positionals.length === 0 && !filtered) {
      throw new UsageError('Say what to replay: ids, --all, --group G or --error TEXT', topic);
    }
    if (values.all && (values.group !== undefined || values.error !== undefined)) {
      throw new UsageError('--all replays every dead letter: leave out --group and --error', topic);
    }
    const selection: ReplaySelection =
      positionals.length > 0
        ? { ids: positionals.map((id) => streamId(id, 'id', topic)) }
        : {
            filter: filterOf(values, topic),
            limit: limitOption(values.limit, CLI_DEFAULTS.replayLimit, topic),
          };
    return { stream: nonEmpty(values.stream, '--stream', topic), selection, json: values.json };
  },
  runner: DlqReplayCommand,
});
