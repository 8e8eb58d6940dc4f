import type { LogLevel } from '@nestjs/common';
import type { LogLevelName } from './env.validation.js';

/** Nest log levels from the most to the least severe. */
const SEVERITY: readonly LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/** The levels Nest should print for LOG_LEVEL: that level and every more severe one. */
export function logLevelsFor(level: LogLevelName): LogLevel[] {
  return SEVERITY.slice(0, SEVERITY.indexOf(level) + 1);
}
