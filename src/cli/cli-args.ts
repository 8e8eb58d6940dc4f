import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ALERTS_STREAM, EVENT_ID_PATTERN } from '../alerts/alerts.constants.js';
import type { CreateAlertDto } from '../alerts/create-alert.dto.js';
import type { DeadLetterFilter } from '../redis-streams/index.js';
import { toValidAlert } from './alert-input.js';
import { CLI_DEFAULTS, STREAM_ID_PATTERN } from './cli.constants.js';
import { InvalidInputError, UsageError, type CommandName, type HelpTopic } from './cli.errors.js';

export interface HelpArgs {
  name: 'help';
  topic?: HelpTopic;
}

export interface StatusArgs {
  name: 'status';
  json: boolean;
}

export interface DlqListArgs {
  name: 'dlq list';
  stream: string;
  limit: number;
  /** Absent: from the newest. */
  cursor?: string;
  filter: DeadLetterFilter;
  json: boolean;
}

/** Either the dead letters named, or those matching a filter (`{}` for all), at most `limit`. */
export type ReplaySelection = { ids: string[] } | { filter: DeadLetterFilter; limit: number };

export interface DlqReplayArgs {
  name: 'dlq replay';
  stream: string;
  selection: ReplaySelection;
  json: boolean;
}

export interface DlqDeleteArgs {
  name: 'dlq delete';
  stream: string;
  ids: string[];
  json: boolean;
}

/** An alert checked like `POST /alerts`, or any JSON object for another stream. */
export type PublishPayload =
  { kind: 'alert'; alert: CreateAlertDto } | { kind: 'json'; value: Record<string, unknown> };

export interface PublishArgs {
  name: 'publish';
  stream: string;
  payload: PublishPayload;
  eventId?: string;
}

export type CliCommand = StatusArgs | DlqListArgs | DlqReplayArgs | DlqDeleteArgs | PublishArgs;

export interface CliInvocation {
  command: CliCommand | HelpArgs;
  verbose: boolean;
}

type Options = NonNullable<ParseArgsConfig['options']>;

const COMMON = {
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;
const STREAM = { stream: { type: 'string', default: CLI_DEFAULTS.stream } } as const;
const JSON_OUTPUT = { json: { type: 'boolean', default: false } } as const;
const FILTER = { group: { type: 'string' }, error: { type: 'string' } } as const;

/**
 * Reads the command line (without `node` and the script): the command, then its options, with
 * `node:util` parseArgs in strict mode. Everything that can be checked without Redis is checked
 * here, alerts included; throws `UsageError` naming the command whose usage to show.
 */
export function parseCliArgs(argv: readonly string[]): CliInvocation {
  const { name, rest } = commandOf(argv);
  if (wantsHelp(argv)) return { command: { name: 'help', topic: name }, verbose: false };
  if (name === undefined) throw new UsageError('Missing command');
  if (name === 'dlq') throw new UsageError('Missing dlq command: list, replay or delete', 'dlq');
  const command = PARSERS[name](rest);
  return { command, verbose: verboseOf(rest) };
}

/** The command words at the start of argv and the arguments after them. */
function commandOf(argv: readonly string[]): { name?: HelpTopic; rest: string[] } {
  const [first, second] = argv;
  if (first === undefined || first.startsWith('-')) return { rest: argv.slice(0) };
  if (first === 'status' || first === 'publish') return { name: first, rest: argv.slice(1) };
  if (first !== 'dlq') throw new UsageError(`Unknown command "${first.slice(0, 50)}"`);
  if (second === undefined || second.startsWith('-')) return { name: 'dlq', rest: argv.slice(1) };
  if (second === 'list' || second === 'replay' || second === 'delete') {
    return { name: `dlq ${second}`, rest: argv.slice(2) };
  }
  throw new UsageError(`Unknown dlq command "${second.slice(0, 50)}"`, 'dlq');
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

const PARSERS: Record<CommandName, (args: string[]) => CliCommand> = {
  status: (args) => {
    const { values } = parse('status', args, { ...JSON_OUTPUT }, false);
    return { name: 'status', json: values.json };
  },

  'dlq list': (args) => {
    const topic = 'dlq list';
    const { values } = parse(
      topic,
      args,
      {
        ...STREAM,
        ...JSON_OUTPUT,
        ...FILTER,
        limit: { type: 'string' },
        cursor: { type: 'string' },
      },
      false,
    );
    return {
      name: topic,
      stream: nonEmpty(values.stream, '--stream', topic),
      limit: integerOption(
        values.limit,
        '--limit',
        CLI_DEFAULTS.listLimit,
        CLI_DEFAULTS.listMaxLimit,
        topic,
      ),
      cursor: values.cursor === undefined ? undefined : streamId(values.cursor, '--cursor', topic),
      filter: filterOf(values, topic),
      json: values.json,
    };
  },

  'dlq replay': (args) => {
    const topic = 'dlq replay';
    const { values, positionals } = parse(
      topic,
      args,
      { ...STREAM, ...JSON_OUTPUT, ...FILTER, all: { type: 'boolean' }, limit: { type: 'string' } },
      true,
    );
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
            limit: integerOption(
              values.limit,
              '--limit',
              CLI_DEFAULTS.replayLimit,
              CLI_DEFAULTS.replayMaxLimit,
              topic,
            ),
          };
    return {
      name: topic,
      stream: nonEmpty(values.stream, '--stream', topic),
      selection,
      json: values.json,
    };
  },

  'dlq delete': (args) => {
    const topic = 'dlq delete';
    const { values, positionals } = parse(topic, args, { ...STREAM, ...JSON_OUTPUT }, true);
    if (positionals.length === 0) throw new UsageError('Give the ids to delete', topic);
    return {
      name: topic,
      stream: nonEmpty(values.stream, '--stream', topic),
      ids: positionals.map((id) => streamId(id, 'id', topic)),
      json: values.json,
    };
  },

  publish: (args) => {
    const topic = 'publish';
    const { values } = parse(
      topic,
      args,
      {
        ...STREAM,
        message: { type: 'string' },
        severity: { type: 'string' },
        source: { type: 'string' },
        label: { type: 'string', multiple: true },
        'event-id': { type: 'string' },
        json: { type: 'string' },
      },
      false,
    );
    const stream = nonEmpty(values.stream, '--stream', topic);
    const eventId = values['event-id'];
    if (eventId !== undefined && !EVENT_ID_PATTERN.test(eventId)) {
      throw new InvalidInputError(
        '--event-id must be 1 to 200 printable ASCII characters without spaces',
        topic,
      );
    }
    const alertFields = {
      message: values.message,
      severity: values.severity,
      source: values.source,
      labels: values.label === undefined ? undefined : labelsOf(values.label),
    };
    const given = Object.entries(alertFields).filter(([, value]) => value !== undefined);
    if (values.json !== undefined) {
      if (given.length > 0) {
        throw new UsageError(
          '--json is the whole payload: leave out --message, --severity, --source and --label',
          topic,
        );
      }
      const value = jsonObject(values.json);
      const payload: PublishPayload =
        stream === ALERTS_STREAM
          ? { kind: 'alert', alert: toValidAlert(value) }
          : { kind: 'json', value };
      return { name: topic, stream, payload, eventId };
    }
    if (stream !== ALERTS_STREAM) {
      throw new UsageError(
        `--message, --severity, --source and --label make an alert for ${ALERTS_STREAM}; give --json '{...}' for ${stream.slice(0, 200)}`,
        topic,
      );
    }
    if (values.message === undefined) {
      throw new UsageError(`Publishing an alert needs --message TEXT (or --json '{...}')`, topic);
    }
    const alert = toValidAlert(Object.fromEntries(given));
    return { name: topic, stream, payload: { kind: 'alert', alert }, eventId };
  },
};

/** parseArgs in strict mode for one command, with the options every command takes. */
function parse<T extends Options>(
  topic: CommandName,
  args: string[],
  options: T,
  positionals: boolean,
) {
  try {
    return parseArgs({
      args,
      options: { ...options, ...COMMON },
      strict: true,
      allowPositionals: positionals,
    });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError((error as Error).message, topic);
    }
    throw error;
  }
}

function filterOf(
  values: { group?: string; error?: string },
  topic: CommandName,
): DeadLetterFilter {
  const filter: DeadLetterFilter = {};
  if (values.group !== undefined) filter.group = nonEmpty(values.group, '--group', topic);
  if (values.error !== undefined) filter.errorContains = nonEmpty(values.error, '--error', topic);
  return filter;
}

function nonEmpty(value: string, option: string, topic: CommandName): string {
  if (value.trim() === '') throw new UsageError(`${option} must not be empty`, topic);
  return value;
}

function integerOption(
  value: string | undefined,
  option: string,
  fallback: number,
  max: number,
  topic: CommandName,
): number {
  if (value === undefined) return fallback;
  const number = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!(number >= 1 && number <= max)) {
    throw new UsageError(
      `${option} must be a whole number from 1 to ${max} (got "${value.slice(0, 20)}")`,
      topic,
    );
  }
  return number;
}

function streamId(value: string, what: string, topic: CommandName): string {
  if (!STREAM_ID_PATTERN.test(value)) {
    throw new UsageError(
      `${what} "${value.slice(0, 50)}" is not a stream entry id (like 1732770000000-0)`,
      topic,
    );
  }
  return value;
}

/** `k=v` pairs, split at the first `=`; the alert's own validation checks keys and values. */
function labelsOf(pairs: string[]): Record<string, string> {
  const entries = pairs.map((pair): [string, string] => {
    const at = pair.indexOf('=');
    if (at < 1) {
      throw new UsageError(`--label "${pair.slice(0, 80)}" must be key=value`, 'publish');
    }
    return [pair.slice(0, at), pair.slice(at + 1)];
  });
  const keys = new Set(entries.map(([key]) => key));
  if (keys.size < entries.length) throw new UsageError('--label names a key twice', 'publish');
  // fromEntries defines own properties: a "__proto__" key stays a key, which validation refuses.
  return Object.fromEntries(entries);
}

function jsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError(`--json is not valid JSON: ${(error as Error).message}`, 'publish');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInputError('--json must be a JSON object ({...})', 'publish');
  }
  return value as Record<string, unknown>;
}
