import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import type { EnvironmentVariables } from '../config/env.validation.js';
import { logFormatFor } from '../config/log-format.js';
import { logLevelsFor } from '../config/log-levels.js';

/**
 * The service's log lines (text or JSON, as LOG_FORMAT says), all on stderr: stdout carries the
 * command's output, which scripts parse.
 */
export class CliLogger extends ConsoleLogger {
  protected override printMessages(
    messages: unknown[],
    context?: string,
    logLevel?: LogLevel,
    _writeStreamType?: 'stdout' | 'stderr',
    errorStack?: unknown,
    params?: Record<string, unknown>,
  ): void {
    super.printMessages(messages, context, logLevel, 'stderr', errorStack, params);
  }
}

/** Errors only, unless `--verbose`: then every level. LOG_LEVEL is the service's, not the CLI's. */
export function createCliLogger(
  env: Pick<EnvironmentVariables, 'LOG_FORMAT' | 'NODE_ENV'>,
  verbose: boolean,
): CliLogger {
  return new CliLogger({
    logLevels: logLevelsFor(verbose ? 'verbose' : 'error'),
    json: logFormatFor(env) === 'json',
    flattenParams: true,
  });
}
