import { commandNamed, commandsOf, type CliCommand } from './command-registry.js';
import { UsageError, type HelpTopic } from './cli.errors.js';

export type { CliCommand } from './command-registry.js';

export interface HelpArgs {
  name: 'help';
  topic?: HelpTopic;
}

export interface CliInvocation {
  command: CliCommand | HelpArgs;
  verbose: boolean;
}

/**
 * Reads the command line (without `node` and the script): the command, then its options, which
 * the command's own `parse` reads (`node:util` parseArgs in strict mode). Everything that can be
 * checked without Redis is checked here; throws `UsageError` naming the help to show.
 */
export function parseCliArgs(argv: readonly string[]): CliInvocation {
  const { name, rest } = commandOf(argv);
  if (wantsHelp(argv)) return { command: { name: 'help', topic: name }, verbose: false };
  if (name === undefined) throw new UsageError('Missing command');
  const command = commandNamed(name);
  if (command === undefined) {
    const words = commandsOf(name).map(({ name }) => name.slice(name.indexOf(' ') + 1));
    throw new UsageError(
      `Missing ${name} command: ${words.join(', ').replace(/, ([^,]*)$/, ' or $1')}`,
      name,
    );
  }
  return { command: command.parse(rest), verbose: verboseOf(rest) };
}

/** The command words at the start of argv (a command, or a group alone) and the arguments after them. */
function commandOf(argv: readonly string[]): { name?: HelpTopic; rest: string[] } {
  const [first, second] = argv;
  if (first === undefined || first.startsWith('-')) return { rest: argv.slice(0) };
  if (commandNamed(first)) return { name: first as HelpTopic, rest: argv.slice(1) };
  if (commandsOf(first).length === 0)
    throw new UsageError(`Unknown command "${first.slice(0, 50)}"`);
  const group = first as HelpTopic;
  if (second === undefined || second.startsWith('-')) return { name: group, rest: argv.slice(1) };
  const name = `${first} ${second}`;
  if (commandNamed(name)) return { name: name as HelpTopic, rest: argv.slice(2) };
  throw new UsageError(`Unknown ${first} command "${second.slice(0, 50)}"`, group);
}

/** `--help` or `-h` before a `--` wins over every other argument, valid or not. */
function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

function verboseOf(rest: readonly string[]): boolean {
  const end = rest.indexOf('--');
  return (end === -1 ? rest : rest.slice(0, end)).includes('--verbose');
}
