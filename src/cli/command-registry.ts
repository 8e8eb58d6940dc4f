import type { CommandDefinition } from './commands/command-definition.interface.js';
import { dlqDeleteCommand } from './commands/dlq-delete.command.js';
import { dlqListCommand } from './commands/dlq-list.command.js';
import { dlqReplayCommand } from './commands/dlq-replay.command.js';
import { groupsPauseCommand, groupsResumeCommand } from './commands/groups-flow.command.js';
import { publishCommand } from './commands/publish.command.js';
import { statusCommand } from './commands/status.command.js';

/** Every command, in the order the help lists them: a new command is one file and one line here. */
export const COMMANDS = [
  statusCommand,
  dlqListCommand,
  dlqReplayCommand,
  dlqDeleteCommand,
  groupsPauseCommand,
  groupsResumeCommand,
  publishCommand,
] as const;

/** A command line read by its command's `parse`. */
export type CliCommand = ReturnType<(typeof COMMANDS)[number]['parse']>;
export type CommandName = CliCommand['name'];
/** The first word of a two-word command (`dlq`), which alone only has a help text. */
export type CommandGroup = CommandName extends infer N
  ? N extends `${infer Group} ${string}`
    ? Group
    : never
  : never;

/** The command called `name`, if there is one. */
export function commandNamed(name: string): CommandDefinition<CliCommand> | undefined {
  return (COMMANDS as readonly CommandDefinition<CliCommand>[]).find(
    (command) => command.name === name,
  );
}

/** The commands of a group, such as `dlq list` and `dlq replay` for `dlq`; empty for a non-group. */
export function commandsOf(group: string): CommandDefinition<CliCommand>[] {
  return (COMMANDS as readonly CommandDefinition<CliCommand>[]).filter((command) =>
    command.name.startsWith(`${group} `),
  );
}
