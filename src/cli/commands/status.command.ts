import { Injectable } from '@nestjs/common';
import { GroupFlows, type StreamWithFlows } from '../../flow/group-flows.js';
import { StreamInspector } from '@redis-streams-alerts/nestjs-redis-streams';
import { JSON_OUTPUT } from '../cli-options.js';
import { CLI_NAME } from '../cli.constants.js';
import { describeFlow } from '../flow-text.js';
import { formatDuration, textTable } from '../text-table.js';
import type { CommandDefinition } from './command-definition.interface.js';
import type { CommandOutput } from './command-output.interface.js';
import { defineCommand } from './define-command.js';

export interface StatusArgs {
  name: 'status';
  json: boolean;
}

/**
 * `status`: every handled stream with its groups (consumers, lag, pending, flow state), consumers
 * and dead letters.
 */
@Injectable()
export class StatusCommand {
  constructor(
    private readonly inspector: StreamInspector,
    private readonly groupFlows: GroupFlows,
  ) {}

  async run(): Promise<CommandOutput> {
    const streams = await this.groupFlows.withFlows(await this.inspector.streams());
    return { data: { streams }, text: renderStatus(streams) };
  }
}

/** Three tables: streams, their groups, the groups' consumers. */
export function renderStatus(streams: StreamWithFlows[]): string {
  const sections = [
    textTable(
      ['STREAM', 'LENGTH', 'FIRST ID', 'LAST ID', 'DEAD LETTERS'],
      streams.map((s) => [
        s.stream,
        String(s.length),
        s.firstId ?? '-',
        s.lastId ?? '-',
        `${s.deadLetter.length} (${s.deadLetter.stream})`,
      ]),
    ),
  ];
  const groups = streams.flatMap((s) => s.groups.map((group) => ({ stream: s.stream, group })));
  sections.push(
    groups.length === 0
      ? 'No consumer groups yet: the service creates them when it starts.'
      : textTable(
          [
            'STREAM',
            'GROUP',
            'CONSUMERS',
            'LAG',
            'PENDING',
            'OLDEST PENDING',
            'LAST DELIVERED',
            'FLOW',
          ],
          groups.map(({ stream, group }) => [
            stream,
            group.name,
            String(group.consumers.length),
            // Redis cannot always tell the lag (after deletions in the stream).
            group.lag === null ? '?' : String(group.lag),
            String(group.pending),
            formatDuration(group.oldestPendingAgeMs),
            group.lastDeliveredId,
            describeFlow(group.flow),
          ]),
        ),
  );
  const consumers = groups.flatMap(({ stream, group }) =>
    group.consumers.map((consumer) => [
      stream,
      group.name,
      consumer.name,
      String(consumer.pending),
      formatDuration(consumer.idleMs),
    ]),
  );
  if (groups.length > 0) {
    sections.push(
      consumers.length === 0
        ? 'No consumers.'
        : textTable(['STREAM', 'GROUP', 'CONSUMER', 'PENDING', 'IDLE'], consumers),
    );
  }
  return sections.join('\n\n');
}

export const statusCommand: CommandDefinition<StatusArgs> = defineCommand({
  name: 'status',
  summary: 'Streams, consumer groups, consumers, lag, pending, flow, dead letters',
  usage: `Usage: ${CLI_NAME} status [--json]

The streams the service handles: length, dead-letter count, and each consumer group with its
consumers, lag (entries not yet delivered), pending entries, the age of the oldest one, and its
flow (flowing, paused, busy until, circuit open) when a handler of the service consumes it.

  --json        Print JSON ({ streams: [...] }) instead of tables`,
  options: JSON_OUTPUT,
  positionals: false,
  read: ({ values }) => ({ json: values.json }),
  runner: StatusCommand,
});
