/** Names of the commands, as typed; `dlq` alone only has a help text. */
export type CommandName = 'status' | 'dlq list' | 'dlq replay' | 'dlq delete' | 'publish';
export type HelpTopic = CommandName | 'dlq';

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
