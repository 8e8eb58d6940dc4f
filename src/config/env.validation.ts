// class-transformer reads property types from this metadata: load it before the class below.
import 'reflect-metadata';
import { hostname } from 'node:os';
import { plainToInstance } from 'class-transformer';
import {
  IsIn,
  IsOptional,
  IsString,
  Matches,
  MinLength,
  ValidateIf,
  validateSync,
  type ValidationError,
} from 'class-validator';
import {
  IsExistingFile,
  IsHostPortList,
  IsIntegerInRange,
  IsPositiveNumber,
  IsUrlWithScheme,
  IsZeroOrAtLeast,
  Satisfies,
} from './env.validators.js';
import { loadReceiversFile, WEBHOOK_RECEIVER_NAME } from './alert-receivers.js';

/** Values of LOG_LEVEL, from the quietest to the most talkative. */
export const LOG_LEVELS = ['error', 'warn', 'log', 'debug', 'verbose'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** Values of LOG_FORMAT: one JSON object per line, or lines for people. */
export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * Values of PROCESS_ROLE: everything in one process, the HTTP side alone (intake, admin API,
 * dashboard), or the consumers alone. Every role serves health and metrics.
 */
export const PROCESS_ROLES = ['all', 'api', 'worker'] as const;
export type ProcessRole = (typeof PROCESS_ROLES)[number];

/** Values of REDIS_MODE: one server, a Redis Cluster, or the master that Sentinel names. */
export const REDIS_MODES = ['standalone', 'cluster', 'sentinel'] as const;
export type RedisModeName = (typeof REDIS_MODES)[number];

const CONSUMER_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const SENTINEL_NAME_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const SEVEN_DAYS_MS = 7 * 24 * 60 * 60 * 1_000;
/** Age limits under an hour are refused: they are most likely in the wrong unit. */
const MIN_AGE_LIMIT_MS = 60 * 60 * 1_000;
/** Delivery deadlines under a minute are refused: they are most likely seconds, not milliseconds. */
const MIN_DELIVERY_DEADLINE_MS = 60 * 1_000;
/** Highest ALERTS_WEBHOOK_RATE_LIMIT: far above what any webhook takes, and beyond the consumer's pace. */
const MAX_WEBHOOK_RATE = 100_000;

/** Whether REDIS_MODE is `mode`, or is invalid (then REDIS_MODE itself is the problem reported). */
function modeIsOrInvalid(env: EnvironmentVariables, mode: RedisModeName): boolean {
  return env.REDIS_MODE === mode || !REDIS_MODES.includes(env.REDIS_MODE);
}

/** Refuses the variable unless REDIS_MODE is `mode`, the only mode that reads it. */
function OnlyInMode(mode: 'cluster' | 'sentinel'): PropertyDecorator {
  return Satisfies<EnvironmentVariables>(
    mode === 'cluster' ? 'onlyInClusterMode' : 'onlyInSentinelMode',
    (_, env) => env.REDIS_MODE === mode,
    (env) =>
      `is only used with REDIS_MODE=${mode} (REDIS_MODE is ${env.REDIS_MODE}): unset it or set REDIS_MODE=${mode}`,
  );
}

/**
 * Required with REDIS_MODE=`mode`, refused in any other: its other rules run in `mode`, or when it
 * is set, so that a value set in the wrong mode is reported too.
 */
function RequiredInMode(mode: 'cluster' | 'sentinel'): PropertyDecorator {
  return (target, property) => {
    const name = property as keyof EnvironmentVariables;
    const checked = (env: EnvironmentVariables): boolean =>
      env.REDIS_MODE === mode || env[name] !== undefined;
    OnlyInMode(mode)(target, property);
    ValidateIf(checked)(target, property);
  };
}

/** The host name made into a valid consumer name, so the default never fails validation. */
function defaultConsumerName(): string {
  return (
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .slice(0, 64) || 'consumer'
  );
}

/**
 * Every environment variable the service reads, with its rule and its default. This class is the
 * one place where defaults live; the `*.config.ts` namespaces only regroup its values.
 */
export class EnvironmentVariables {
  // NOTE: every property has an explicit type: implicit conversion reads it from the decorator
  // metadata, which swc (used by jest) only emits for annotated properties.
  @IsIntegerInRange(0, 65_535)
  PORT: number = 3000;

  @IsIn(PROCESS_ROLES, { message: `must be one of ${PROCESS_ROLES.join(', ')}` })
  PROCESS_ROLE: ProcessRole = 'all';

  @IsIn(REDIS_MODES, { message: `must be one of ${REDIS_MODES.join(', ')}` })
  REDIS_MODE: RedisModeName = 'standalone';

  @IsUrlWithScheme(['redis', 'rediss'], 'redis://user:password@host:6379/0')
  @Satisfies<EnvironmentVariables>(
    'onlyStandaloneUrl',
    // The default may stay (it is in .env.example); another URL in another mode is a mistake.
    (value, env) => modeIsOrInvalid(env, 'standalone') || value === DEFAULT_REDIS_URL,
    (env) =>
      `is only used with REDIS_MODE=standalone; unset it (REDIS_MODE is ${env.REDIS_MODE}, which finds Redis through ${env.REDIS_MODE === 'cluster' ? 'REDIS_CLUSTER_NODES' : 'REDIS_SENTINELS'})`,
  )
  REDIS_URL: string = DEFAULT_REDIS_URL;

  @IsOptional()
  @IsExistingFile()
  @Satisfies<EnvironmentVariables>(
    'onlyStandaloneTls',
    (_, env) => modeIsOrInvalid(env, 'standalone'),
    () =>
      'is only used with REDIS_MODE=standalone: TLS to a Cluster or through Sentinel is not supported yet',
  )
  @Satisfies<EnvironmentVariables>(
    'requiresRediss',
    (_, env) =>
      env.REDIS_MODE !== 'standalone' ||
      typeof env.REDIS_URL !== 'string' ||
      env.REDIS_URL.startsWith('rediss://'),
    () => 'is only used with TLS: set REDIS_URL to a rediss:// URL or unset REDIS_TLS_CA_FILE',
  )
  REDIS_TLS_CA_FILE?: string = undefined;

  @RequiredInMode('cluster')
  @IsHostPortList('10.0.0.1:7000,10.0.0.2:7000', 'is required with REDIS_MODE=cluster')
  REDIS_CLUSTER_NODES?: string = undefined;

  @RequiredInMode('sentinel')
  @IsHostPortList(
    '10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379',
    'is required with REDIS_MODE=sentinel',
  )
  REDIS_SENTINELS?: string = undefined;

  @RequiredInMode('sentinel')
  @Matches(SENTINEL_NAME_PATTERN, {
    message:
      'must be the master name of "sentinel monitor <name> ..." (1 to 128 letters, digits, ".", "_" or "-"); required with REDIS_MODE=sentinel',
  })
  REDIS_SENTINEL_NAME?: string = undefined;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  @OnlyInMode('sentinel')
  REDIS_SENTINEL_PASSWORD?: string = undefined;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MinLength(16, { message: 'must be at least 16 characters long when set' })
  API_KEY?: string = undefined;

  @IsOptional()
  @IsUrlWithScheme(['http', 'https'], 'https://hooks.example.com/alerts')
  ALERTS_WEBHOOK_URL?: string = undefined;

  /**
   * A YAML or JSON file of receivers, each with its URL, format, matchers and limits (see
   * receivers-file.ts); its content is checked by `validate` below. Instead of ALERTS_WEBHOOK_URL:
   * with both, which one decides would be a guess.
   */
  @IsOptional()
  @IsExistingFile()
  @Satisfies<EnvironmentVariables>(
    'notWithWebhookUrl',
    (_, env) => env.ALERTS_WEBHOOK_URL === undefined,
    () =>
      `cannot be set together with ALERTS_WEBHOOK_URL: unset ALERTS_WEBHOOK_URL, and to keep that webhook (and what its group alerts-webhook has pending) add it to the file as a receiver named "${WEBHOOK_RECEIVER_NAME}" with no matchers`,
  )
  ALERTS_RECEIVERS_FILE?: string = undefined;

  @IsIntegerInRange(1)
  ALERTS_WEBHOOK_TIMEOUT_MS: number = 5_000;

  /** Webhook calls per second, across every instance; unset: no limit but the receiver's own. */
  @IsOptional()
  @IsPositiveNumber(MAX_WEBHOOK_RATE, 'calls per second')
  @Satisfies<EnvironmentVariables>(
    'notWithReceiversFile',
    (_, env) => env.ALERTS_RECEIVERS_FILE === undefined,
    () =>
      'is only used with ALERTS_WEBHOOK_URL: give each receiver of ALERTS_RECEIVERS_FILE its own rateLimit',
  )
  ALERTS_WEBHOOK_RATE_LIMIT?: number = undefined;

  /**
   * An alert not delivered this long after it was accepted is dead-lettered, however many attempts
   * it has left: busy receivers spend no attempts, so time is what bounds them. 0: no deadline.
   * Six hours ride out a long outage of the receiver, and an alert older than that is news no more.
   */
  @IsZeroOrAtLeast(MIN_DELIVERY_DEADLINE_MS, 'no deadline')
  ALERTS_DELIVERY_MAX_AGE_MS: number = 6 * 60 * 60 * 1_000;

  /**
   * 0: one stream, `alerts`. P > 0: the partitions `alerts:{0}` ... `alerts:{P-1}`, alerts routed
   * by their source; required on Cluster, where they spread over the shards.
   */
  @IsIntegerInRange(0, 1024)
  @Satisfies<EnvironmentVariables>(
    'partitionsOnCluster',
    (value, env) => env.REDIS_MODE !== 'cluster' || Number(value) > 0,
    () =>
      'must be at least 1 with REDIS_MODE=cluster: the alerts stream must be hash-tagged partitions (alerts:{0}, ...) so that its keys stay in one slot',
  )
  ALERTS_PARTITIONS: number = 0;

  @Matches(CONSUMER_NAME_PATTERN, {
    message: 'must be 1 to 64 characters, only letters, digits, ".", "_" and "-"',
  })
  CONSUMER_NAME: string = defaultConsumerName();

  @IsIntegerInRange(1, 100)
  RETRY_MAX_ATTEMPTS: number = 5;

  @IsIntegerInRange(1)
  RETRY_BACKOFF_BASE_MS: number = 1_000;

  @IsIntegerInRange(1)
  @Satisfies<EnvironmentVariables>(
    'atLeastBackoffBase',
    (value, env) =>
      typeof value !== 'number' ||
      typeof env.RETRY_BACKOFF_BASE_MS !== 'number' ||
      value >= env.RETRY_BACKOFF_BASE_MS,
    (env) => `must be at least RETRY_BACKOFF_BASE_MS (${env.RETRY_BACKOFF_BASE_MS})`,
  )
  RETRY_BACKOFF_MAX_MS: number = 60_000;

  @IsIntegerInRange(1_000)
  CLAIM_MIN_IDLE_MS: number = 30_000;

  @IsIntegerInRange(0)
  SHUTDOWN_TIMEOUT_MS: number = 10_000;

  @IsIntegerInRange(1, 10_000)
  CONSUMER_BATCH_SIZE: number = 16;

  @IsIntegerInRange(1, 1_000)
  CONSUMER_CONCURRENCY: number = 8;

  @IsIntegerInRange(1)
  CONSUMER_BLOCK_MS: number = 2_000;

  @IsIntegerInRange(1)
  PUBLISH_TIMEOUT_MS: number = 2_000;

  /**
   * Retention of the alerts stream, by count and by age; 0 turns a limit off. The defaults bound
   * a fresh install: alerts are kept as long as their records (7 days), and at most a million.
   */
  @IsIntegerInRange(0)
  RETENTION_MAX_LEN: number = 1_000_000;

  @IsZeroOrAtLeast(MIN_AGE_LIMIT_MS, 'no age limit')
  RETENTION_MAX_AGE_MS: number = SEVEN_DAYS_MS;

  @IsIntegerInRange(100)
  RETENTION_INTERVAL_MS: number = 10_000;

  /** Dead letters are never trimmed by count; 0 keeps them until replayed or deleted. */
  @IsZeroOrAtLeast(MIN_AGE_LIMIT_MS, 'keep dead letters')
  DEAD_LETTER_MAX_AGE_MS: number = 0;

  /** The storage alarm fires when one dead-letter stream holds this many; 0: never. */
  @IsIntegerInRange(0)
  DEAD_LETTER_ALARM_COUNT: number = 1_000;

  /** On Cluster, WAIT goes in the pipeline of the append, so it reaches the master that took it. */
  @IsIntegerInRange(0, 100)
  REDIS_WAIT_REPLICAS: number = 0;

  @IsIntegerInRange(1)
  REDIS_WAIT_TIMEOUT_MS: number = 1_000;

  @IsIntegerInRange(1)
  HTTP_BODY_LIMIT_BYTES: number = 65_536;

  /**
   * Largest body of POST /alerts/alertmanager: a notification of Alertmanager holds a whole group
   * of alerts, each with its labels and annotations (about 1 to 4 KB each), so it gets its own.
   */
  @IsIntegerInRange(1)
  ALERTMANAGER_BODY_LIMIT_BYTES: number = 4 * 1_024 * 1_024;

  /** Most alerts one Alertmanager notification may carry (its `max_alerts` should not exceed it). */
  @IsIntegerInRange(1, 100_000)
  ALERTMANAGER_MAX_ALERTS: number = 1_000;

  @IsIn(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL: LogLevelName = 'log';

  /** Unset: `json` when NODE_ENV is `production`, `text` otherwise (see `logFormatFor`). */
  @IsOptional()
  @IsIn(LOG_FORMATS, { message: `must be one of ${LOG_FORMATS.join(', ')}` })
  LOG_FORMAT?: LogFormat = undefined;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  NODE_ENV?: string = undefined;
}

/** Names of all variables above, e.g. to check that `.env.example` documents each one. */
export const ENV_VARIABLE_NAMES = Object.keys(new EnvironmentVariables()) as Array<
  keyof EnvironmentVariables
>;

/**
 * Variables whose value is never repeated in an error message (passwords, tokens). The node lists
 * are among them because a URL with a password pasted there by mistake must not be printed.
 */
const SECRET_VARIABLES: ReadonlySet<string> = new Set([
  'API_KEY',
  'REDIS_URL',
  'REDIS_SENTINEL_PASSWORD',
  'REDIS_CLUSTER_NODES',
  'REDIS_SENTINELS',
  'ALERTS_WEBHOOK_URL',
]);

const MAX_ECHOED_LENGTH = 80;

/** Thrown by `validate` with one line per invalid variable; never contains a secret value. */
export class ConfigValidationError extends Error {
  override readonly name = 'ConfigValidationError';

  constructor(readonly problems: readonly string[]) {
    super(
      `Invalid configuration: ${problems.length} environment variable(s) have a problem:\n` +
        problems.map((problem) => `  - ${problem}`).join('\n'),
    );
  }
}

function describeProblem(error: ValidationError, raw: Record<string, unknown>): string {
  const reasons = Object.values(error.constraints ?? {}).join('; ');
  const value = raw[error.property];
  if (SECRET_VARIABLES.has(error.property) || value === undefined) {
    return `${error.property}: ${reasons}`;
  }
  const shown = String(value);
  const echoed =
    shown.length > MAX_ECHOED_LENGTH ? `${shown.slice(0, MAX_ECHOED_LENGTH)}...` : shown;
  return `${error.property}: ${reasons} (got ${JSON.stringify(echoed)})`;
}

/**
 * Checks the environment against `EnvironmentVariables` and fills in defaults. Variables set to
 * an empty string count as unset. Throws one `ConfigValidationError` listing every problem.
 */
export function validate(config: Record<string, unknown>): EnvironmentVariables {
  const raw: Record<string, unknown> = { ...config };
  for (const name of ENV_VARIABLE_NAMES) {
    if (raw[name] === '') delete raw[name];
  }
  const env = plainToInstance(EnvironmentVariables, raw, { enableImplicitConversion: true });
  const errors = validateSync(env, { skipMissingProperties: false });
  const problems = errors.map((error) => describeProblem(error, raw));
  // The receivers file's content, once the variable itself is fine: one line per problem in it.
  if (!errors.some((error) => error.property === 'ALERTS_RECEIVERS_FILE')) {
    for (const problem of loadReceiversFile(env, raw)) {
      problems.push(`ALERTS_RECEIVERS_FILE: ${problem}`);
    }
  }
  if (problems.length > 0) throw new ConfigValidationError(problems);
  return env;
}
