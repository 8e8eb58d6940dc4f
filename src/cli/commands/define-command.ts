import { parseOptions, type Options, type Parsed } from '../cli-options.js';
import type { CommandName } from '../cli.errors.js';
import type { CommandDefinition } from './command-definition.interface.js';

/** What a command file declares: its options as data, and how it reads them. */
export interface CommandSpec<
  A extends { name: string },
  O extends Options,
  P extends boolean,
> extends Omit<CommandDefinition<A>, 'parse'> {
  /** Its options, for `node:util` parseArgs (strict); `--verbose` and `--help` are added. */
  options: O;
  /** Whether it takes arguments that are not options, such as ids. */
  positionals: P;
  /** Turns what parseArgs read into the arguments, checking all that needs no Redis. */
  read(parsed: Parsed<O, P>, topic: A['name']): Omit<A, 'name'>;
}

/** A command whose `parse` runs parseArgs with its options, then its own `read`. */
export function defineCommand<A extends { name: string }, O extends Options, P extends boolean>(
  spec: CommandSpec<A, O, P>,
): CommandDefinition<A> {
  const { options, positionals, read, ...definition } = spec;
  return {
    ...definition,
    parse: (args) => {
      // A['name'] is one of the command names; TypeScript cannot tell inside this generic.
      const parsed = parseOptions(spec.name as CommandName, args, options, positionals);
      return { name: spec.name, ...read(parsed, spec.name) } as A;
    },
  };
}
