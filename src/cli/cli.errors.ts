import type { CommandGroup, CommandName } from './command-registry.js';

export type { CommandName } from './command-registry.js';
/** What a help text can be about: a command, or a group of commands. */
export type HelpTopic = CommandName | CommandGroup;

/** The command line is wrong: exit code 2, with the usage of `topic` (or of the whole CLI). */
export class UsageError extends Error {
  override readonly name: string = 'UsageError';

  constructor(
    message: string,
    readonly topic?: HelpTopic,
  ) {
    super(message);
  }
}

/**
 * The command line is well formed but a value is not acceptable (an alert that fails validation,
 * a stream the service does not handle): exit code 2, with the problems and a pointer to the help.
 */
export class InvalidInputError extends UsageError {
  override readonly name = 'InvalidInputError';
}

/** The command could not be done (Redis unreachable, a write refused): exit code 1, no usage. */
export class CommandFailedError extends Error {
  override readonly name = 'CommandFailedError';
}
