import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { DeadLetterFilter } from '@redis-streams-alerts/nestjs-redis-streams';
import { CLI_DEFAULTS, STREAM_ID_PATTERN } from './cli.constants.js';
import { UsageError, type CommandName } from './cli.errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Options every command takes; `parseCliArgs` reads them before the command. */
const COMMON = {
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;
export const STREAM = { stream: { type: 'string', default: CLI_DEFAULTS.stream } } as const;
export const JSON_OUTPUT = { json: { type: 'boolean', default: false } } as const;
export const FILTER = { group: { type: 'string' }, error: { type: 'string' } } as const;
/** Which dead letters and how many, for `dlq list` and a filtered `dlq replay`. */
export const DEAD_LETTER_SELECTION = { ...STREAM, ...FILTER, limit: { type: 'string' } } as const;

/** What `parseOptions` returns: parseArgs' own result type for these options. */
export type Parsed<T extends Options, P extends boolean> = ReturnType<
  typeof parseArgs<{
    args: string[];
    options: T & typeof COMMON;
    strict: true;
    allowPositionals: P;
  }>
>;

/** parseArgs in strict mode for one command, with the options every command takes. */
export function parseOptions<T extends Options, P extends boolean>(
  topic: CommandName,
  args: string[],
  options: T,
  positionals: P,
): Parsed<T, P> {
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

export function filterOf(
  values: { group?: string; error?: string },
  topic: CommandName,
): DeadLetterFilter {
  const filter: DeadLetterFilter = {};
  if (values.group !== undefined) filter.group = nonEmpty(values.group, '--group', topic);
  if (values.error !== undefined) filter.errorContains = nonEmpty(values.error, '--error', topic);
  return filter;
}

export function nonEmpty(value: string, option: string, topic: CommandName): string {
  if (value.trim() === '') throw new UsageError(`${option} must not be empty`, topic);
  return value;
}

/** The bounds of a `--limit`: what it is when not given, and its most. */
export interface LimitBounds {
  default: number;
  max: number;
}

/** `--limit N`: a whole number from 1 to `bounds.max`, `bounds.default` when not given. */
export function limitOption(
  value: string | undefined,
  bounds: LimitBounds,
  topic: CommandName,
): number {
  if (value === undefined) return bounds.default;
  const number = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!(number >= 1 && number <= bounds.max)) {
    throw new UsageError(
      `--limit must be a whole number from 1 to ${bounds.max} (got "${value.slice(0, 20)}")`,
      topic,
    );
  }
  return number;
}

export function streamId(value: string, what: string, topic: CommandName): string {
  if (!STREAM_ID_PATTERN.test(value)) {
    throw new UsageError(
      `${what} "${value.slice(0, 50)}" is not a stream entry id (like 1732770000000-0)`,
      topic,
    );
  }
  return value;
}
