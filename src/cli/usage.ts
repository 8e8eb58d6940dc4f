import { CLI_NAME } from './cli.constants.js';
import type { HelpTopic } from './cli.errors.js';
import { COMMANDS, commandNamed, commandsOf } from './command-registry.js';

/** Command names and summaries line up in this column. */
const SUMMARY_COLUMN = 14;

const GENERAL = `Usage: ${CLI_NAME} <command> [options]

Operator commands for the alerts service. They read the service's environment (REDIS_URL,
REDIS_TLS_CA_FILE, ...), validated as the service does, and never consume or claim work.

Commands:
${COMMANDS.map(({ name, summary }) => `  ${name.padEnd(SUMMARY_COLUMN)}${summary}`).join('\n')}

Options of every command:
  --verbose     Print the service's logs on stderr (by default only errors)
  -h, --help    This text; "${CLI_NAME} <command> --help" for one command

Exit codes: 0 done, 1 failed (invalid configuration, Redis unreachable, ...), 2 usage error.
Run "npm run build" first; "npm run --silent cli -- <command>" keeps npm's banner out of stdout.`;

/** A group's help: its commands' words, then each command's own help. */
function groupUsage(group: string): string {
  const commands = commandsOf(group);
  const words = commands.map(({ name }) => name.slice(group.length + 1)).join('|');
  return [
    `Usage: ${CLI_NAME} ${group} <${words}> [options]`,
    ...commands.map(({ usage }) => usage),
  ].join('\n\n');
}

/** The help of one command or group, or of the whole CLI. */
export function usageText(topic?: HelpTopic): string {
  if (!topic) return GENERAL;
  const text = commandNamed(topic)?.usage ?? groupUsage(topic);
  return `${text}\n\nRun "${CLI_NAME} --help" for every command.`;
}
