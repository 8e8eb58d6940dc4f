import { ConsoleLogger } from '@nestjs/common';
import type { EnvironmentVariables, LogFormat } from './env.validation.js';
import { logLevelsFor } from './log-levels.js';

/**
 * LOG_FORMAT when set; otherwise JSON lines in production, where a log collector parses them,
 * and readable lines everywhere else.
 */
export function logFormatFor(
  env: Pick<EnvironmentVariables, 'LOG_FORMAT' | 'NODE_ENV'>,
): LogFormat {
  return env.LOG_FORMAT ?? (env.NODE_ENV === 'production' ? 'json' : 'text');
}

/**
 * The service's logger: Nest's own `ConsoleLogger`, in the format and at the level the environment
 * asks for. In JSON, each line is `{ level, pid, timestamp, message, context }`, and the fields of a
 * plain object passed after the message (`logger.log('...', { eventId })`) sit at the top level.
 */
export function createLogger(
  env: Pick<EnvironmentVariables, 'LOG_FORMAT' | 'NODE_ENV' | 'LOG_LEVEL'>,
): ConsoleLogger {
  return new ConsoleLogger({
    logLevels: logLevelsFor(env.LOG_LEVEL),
    json: logFormatFor(env) === 'json',
    flattenParams: true,
  });
}
