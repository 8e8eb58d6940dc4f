import { ALERTS_STREAM } from '../alerts/alerts.constants.js';

/** The name operators type: the package's `bin` entry. */
export const CLI_NAME = 'alerts-cli';

/** Exit codes: scripts tell a failure (Redis, configuration) from a wrong command line. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** Defaults and bounds of the command-line options; one place, no magic numbers. */
export const CLI_DEFAULTS = {
  stream: ALERTS_STREAM,
  /** `dlq list --limit`; its most is the inspector's own page cap. */
  listLimit: { default: 20, max: 500 },
  /** `dlq replay --limit`, with a filter. */
  replayLimit: { default: 1_000, max: 10_000 },
  /** Longest wait, from startup, for the first connection to Redis before giving up. */
  connectTimeoutMs: 3_000,
  /** Longest wait for the context (its Redis connection) to close once the command is done. */
  closeTimeoutMs: 2_000,
} as const;

export { STREAM_ID_PATTERN } from '@redis-streams-alerts/nestjs-redis-streams';
