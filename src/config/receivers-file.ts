import { readFileSync, statSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { parseMatcher, type LabelMatcher } from './label-matchers.js';

/** How a receiver's request body is written. */
export const RECEIVER_FORMATS = ['json', 'slack', 'pagerduty'] as const;
export type ReceiverFormat = (typeof RECEIVER_FORMATS)[number];

/** One receiver, validated, with its secrets resolved from the environment. */
export interface ReceiverSettings {
  /** Unique; names the receiver's consumer group, metrics and dead letters. */
  name: string;
  /** Undefined only for the receiver ALERTS_WEBHOOK_URL makes when that is unset: alerts are logged. */
  url?: string;
  /** Extra request headers, values resolved. Secret: never logged. */
  headers: Record<string, string>;
  format: ReceiverFormat;
  /** PagerDuty's integration key (`routing_key`), with `format: pagerduty`. Secret. */
  routingKey?: string;
  /** All must match for the receiver to take an alert; none: it takes every alert. */
  matchers: LabelMatcher[];
  /** Calls per second across every instance; undefined: no limit but the receiver's own. */
  rateLimit?: number;
  /** Age at which an undelivered alert is dead-lettered; 0: never. */
  maxAgeMs: number;
  /** How long one call may take. */
  timeoutMs: number;
  /** Every value that must never be shown (URL, header values, routing key), for redaction. */
  secretValues: string[];
}

/** The defaults a receiver of the file takes from the environment, and the variables it may reference. */
export interface ReceiverDefaults {
  timeoutMs: number;
  maxAgeMs: number;
  /** Where `${NAME}` references are looked up. */
  variables: Record<string, unknown>;
}

/** What reading the file gave: the receivers when there is no problem, else every problem. */
export interface ReceiversFileResult {
  receivers: ReceiverSettings[];
  problems: string[];
}

/** Rules of the file, beside the per-field ones below. */
export const RECEIVERS_FILE_LIMITS = {
  maxBytes: 1024 * 1024,
  maxReceivers: 50,
  maxHeaders: 20,
  maxMatchers: 20,
  /** A receiver's name becomes part of its consumer group's name: `alerts-<name>`. */
  namePattern: /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/,
  /** Far above what any webhook takes, as for ALERTS_WEBHOOK_RATE_LIMIT. */
  maxRate: 100_000,
  /** Deadlines under a minute are most likely seconds, not milliseconds. */
  minMaxAgeMs: 60_000,
} as const;

/**
 * Names whose group would be one the service already uses (`alerts-recorder`,
 * `alerts-recorder-dlq`: see alerts.constants.ts).
 */
export const RESERVED_RECEIVER_NAMES: readonly string[] = ['recorder', 'recorder-dlq'];

const RECEIVER_KEYS = [
  'name',
  'url',
  'headers',
  'format',
  'routingKey',
  'matchers',
  'rateLimit',
  'maxAgeMs',
  'timeoutMs',
] as const;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers the service sets itself, or that would break the request. */
const FORBIDDEN_HEADERS = new Set([
  'content-type',
  'content-length',
  'host',
  'idempotency-key',
  'connection',
  'transfer-encoding',
]);
/** Values shorter than this are not secrets worth redacting from messages. */
const MIN_REDACTED_LENGTH = 6;
const REFERENCE = /\$\{([^}]*)\}/g;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Reads and checks a receivers file (YAML, or JSON, which is YAML too) of the form
 * `receivers: [{ name, url, format, headers, routingKey, matchers, rateLimit, maxAgeMs, timeoutMs }]`.
 * `${NAME}` in `url`, header values and `routingKey` takes the value of the variable NAME, so
 * secrets stay in the environment. Every problem is listed, none holds a secret value.
 */
export function readReceiversFile(path: string, defaults: ReceiverDefaults): ReceiversFileResult {
  let text: string;
  try {
    if (statSync(path).size > RECEIVERS_FILE_LIMITS.maxBytes) {
      return fail(`is larger than ${RECEIVERS_FILE_LIMITS.maxBytes} bytes`);
    }
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return fail(`cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  const [error] = document.errors;
  if (error) {
    // The code and the position only: the parser's message may quote the file, secrets included.
    const at = error.linePos?.[0];
    const where = at ? ` at line ${at.line}, column ${at.col}` : '';
    return fail(`is not valid YAML or JSON: ${error.code}${where}`);
  }
  return readReceivers(document.toJS() as unknown, defaults);
}

/** The checks of `readReceiversFile` on the parsed content. */
export function readReceivers(content: unknown, defaults: ReceiverDefaults): ReceiversFileResult {
  if (!isPlainObject(content) || !Array.isArray(content.receivers)) {
    return fail('must hold "receivers:", a list of receivers');
  }
  const problems: string[] = [];
  for (const key of Object.keys(content)) {
    if (key !== 'receivers') problems.push(`has the unknown key "${clip(key)}" (only "receivers")`);
  }
  const list = content.receivers as unknown[];
  if (list.length === 0) problems.push('receivers: must list at least one receiver');
  if (list.length > RECEIVERS_FILE_LIMITS.maxReceivers) {
    problems.push(`receivers: at most ${RECEIVERS_FILE_LIMITS.maxReceivers} receivers`);
  }
  const receivers: ReceiverSettings[] = [];
  const seen = new Set<string>();
  list.forEach((item, index) => {
    const read = readReceiver(item, defaults);
    const where = `receivers[${index}]${typeof read.name === 'string' ? ` (${read.name})` : ''}`;
    problems.push(...read.problems.map((problem) => `${where}: ${problem}`));
    if (read.name !== undefined) {
      if (seen.has(read.name)) problems.push(`${where}: name: "${read.name}" is used twice`);
      seen.add(read.name);
    }
    if (read.receiver) receivers.push(read.receiver);
  });
  return problems.length > 0 ? { receivers: [], problems } : { receivers, problems };
}

interface ReadReceiver {
  name?: string;
  receiver?: ReceiverSettings;
  problems: string[];
}

function readReceiver(item: unknown, defaults: ReceiverDefaults): ReadReceiver {
  if (!isPlainObject(item)) return { problems: ['must be a map with name, url, ...'] };
  const problems: string[] = [];
  const secretValues: string[] = [];
  const resolve = (field: string, value: string): string | undefined => {
    const resolved = interpolate(value, defaults.variables);
    if (typeof resolved !== 'string') {
      problems.push(`${field}: ${resolved.problem}`);
      return undefined;
    }
    secretValues.push(resolved);
    return resolved;
  };

  for (const key of Object.keys(item)) {
    if (!(RECEIVER_KEYS as readonly string[]).includes(key)) {
      problems.push(`has the unknown key "${clip(key)}" (known: ${RECEIVER_KEYS.join(', ')})`);
    }
  }

  const name = item.name;
  let validName: string | undefined;
  if (typeof name !== 'string' || !RECEIVERS_FILE_LIMITS.namePattern.test(name)) {
    problems.push(
      'name: is required: 1 to 63 letters, digits, "_" or "-", starting with a letter or digit',
    );
  } else if (RESERVED_RECEIVER_NAMES.includes(name)) {
    problems.push(`name: "${name}" is reserved (its consumer group is the recorder's)`);
  } else {
    validName = name;
  }

  let url: string | undefined;
  if (typeof item.url !== 'string' || item.url === '') {
    problems.push('url: is required: an http:// or https:// URL, e.g. ${SLACK_WEBHOOK_URL}');
  } else {
    url = resolve('url', item.url);
    // Never the URL itself in the message: it may hold a token (a Slack webhook's path does).
    if (url !== undefined && !isHttpUrl(url)) {
      problems.push('url: must be an http:// or https:// URL with a host');
    }
  }

  const format = item.format ?? 'json';
  if (!(RECEIVER_FORMATS as readonly unknown[]).includes(format)) {
    problems.push(`format: must be one of ${RECEIVER_FORMATS.join(', ')}`);
  }

  const headers: Record<string, string> = {};
  if (item.headers !== undefined) {
    if (!isPlainObject(item.headers)) {
      problems.push('headers: must be a map of header name to value');
    } else {
      const entries = Object.entries(item.headers);
      if (entries.length > RECEIVERS_FILE_LIMITS.maxHeaders) {
        problems.push(`headers: at most ${RECEIVERS_FILE_LIMITS.maxHeaders}`);
      }
      for (const [header, value] of entries) {
        const field = `headers.${clip(header)}`;
        if (!HEADER_NAME.test(header)) {
          problems.push(`${field}: is not a valid header name`);
        } else if (FORBIDDEN_HEADERS.has(header.toLowerCase())) {
          problems.push(`${field}: is set by the service itself`);
        } else if (typeof value !== 'string' && typeof value !== 'number') {
          problems.push(`${field}: must be a text value`);
        } else {
          const resolved = resolve(field, String(value));
          if (resolved !== undefined && /[\r\n\0]/.test(resolved)) {
            problems.push(`${field}: must not contain line breaks`);
          } else if (resolved !== undefined) {
            headers[header] = resolved;
          }
        }
      }
    }
  }

  let routingKey: string | undefined;
  if (format === 'pagerduty') {
    if (typeof item.routingKey !== 'string' || item.routingKey === '') {
      problems.push(
        'routingKey: is required with format pagerduty: its integration key, e.g. ${PD_ROUTING_KEY}',
      );
    } else {
      routingKey = resolve('routingKey', item.routingKey);
    }
  } else if (item.routingKey !== undefined) {
    problems.push('routingKey: is only used with format pagerduty');
  }

  const matchers: LabelMatcher[] = [];
  if (item.matchers !== undefined) {
    if (!Array.isArray(item.matchers)) {
      problems.push('matchers: must be a list such as ["severity=\\"critical\\""]');
    } else {
      if (item.matchers.length > RECEIVERS_FILE_LIMITS.maxMatchers) {
        problems.push(`matchers: at most ${RECEIVERS_FILE_LIMITS.maxMatchers}`);
      }
      item.matchers.forEach((text: unknown, index) => {
        const parsed = typeof text === 'string' ? parseMatcher(text) : { problem: 'must be text' };
        if ('problem' in parsed) problems.push(`matchers[${index}]: ${parsed.problem}`);
        else matchers.push(parsed);
      });
    }
  }

  const rateLimit = item.rateLimit;
  if (
    rateLimit !== undefined &&
    !(
      typeof rateLimit === 'number' &&
      Number.isFinite(rateLimit) &&
      rateLimit > 0 &&
      rateLimit <= RECEIVERS_FILE_LIMITS.maxRate
    )
  ) {
    problems.push(
      `rateLimit: must be a number of calls per second above 0 and at most ${RECEIVERS_FILE_LIMITS.maxRate}, such as 5 or 0.5`,
    );
  }
  const maxAgeMs = item.maxAgeMs ?? defaults.maxAgeMs;
  if (
    !Number.isInteger(maxAgeMs) ||
    (maxAgeMs !== 0 && (maxAgeMs as number) < RECEIVERS_FILE_LIMITS.minMaxAgeMs)
  ) {
    problems.push(
      `maxAgeMs: must be 0 (no deadline) or a whole number of at least ${RECEIVERS_FILE_LIMITS.minMaxAgeMs}`,
    );
  }
  const timeoutMs = item.timeoutMs ?? defaults.timeoutMs;
  if (!Number.isInteger(timeoutMs) || (timeoutMs as number) < 1) {
    problems.push('timeoutMs: must be a whole number of at least 1');
  }

  if (problems.length > 0 || validName === undefined || url === undefined) {
    return { name: validName, problems };
  }
  return {
    name: validName,
    problems,
    receiver: {
      name: validName,
      url,
      headers,
      format: format as ReceiverFormat,
      routingKey,
      matchers,
      rateLimit: rateLimit as number | undefined,
      maxAgeMs: maxAgeMs as number,
      timeoutMs: timeoutMs as number,
      // Short values (a version number in a header) would blank out innocent text if redacted.
      secretValues: secretValues.filter((secret) => secret.length >= MIN_REDACTED_LENGTH),
    },
  };
}

/**
 * `${NAME}` replaced by the variable's value; `$${` keeps a literal `${`. A reference to a
 * variable that is unset or empty is a problem that names the variable, never a value.
 */
function interpolate(
  text: string,
  variables: Record<string, unknown>,
): string | { problem: string } {
  const missing: string[] = [];
  const invalid: string[] = [];
  const escaped = '\u0000';
  const resolved = text.replaceAll('$${', escaped).replace(REFERENCE, (_, name: string) => {
    if (!VARIABLE_NAME.test(name)) invalid.push(clip(name));
    const value = variables[name];
    if (typeof value !== 'string' || value === '') {
      missing.push(name);
      return '';
    }
    return value;
  });
  if (invalid.length > 0) return { problem: `\${${invalid[0]}} is not a variable name` };
  if (missing.length > 0) {
    return { problem: `references ${missing.map((n) => `\${${n}}`).join(', ')}, which is not set` };
  }
  return resolved.replaceAll(escaped, '${');
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A key from the file, shortened for a message. */
function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

function fail(problem: string): ReceiversFileResult {
  return { receivers: [], problems: [problem] };
}
