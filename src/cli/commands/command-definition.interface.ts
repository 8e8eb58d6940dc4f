import type { Type } from '@nestjs/common';
import type { CommandOutput } from './command-output.interface.js';

/** The provider that runs a command in the CLI's application context. */
export interface CommandRunner<A> {
  run(args: A): Promise<CommandOutput>;
}

/**
 * One command, declared once, in its own file: the words that name it, its help, how it reads its
 * arguments (everything that can be checked without Redis), and what runs it.
 */
export interface CommandDefinition<A extends { name: string }> {
  /** As typed: one word, or a group and a word (`dlq list`). */
  name: A['name'];
  /** Its line in the general help. */
  summary: string;
  /** Its own help. */
  usage: string;
  /** Reads the arguments after the command's words; throws `UsageError`. */
  parse(args: string[]): A;
  runner: Type<CommandRunner<A>>;
}
