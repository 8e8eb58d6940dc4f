/** Where the admin API and the dashboard live. */
export const ADMIN_ROUTE = 'admin';
export const DASHBOARD_ROUTE = 'dashboard';

/** Bounds of every admin list: a page holds `default` items unless asked, never more than `max`. */
export const ADMIN_PAGE = { default: 50, max: 200 } as const;

export const ADMIN_LIMITS = {
  /** Ids one replay or delete request may name. */
  idsPerRequest: 500,
  /** Dead letters one filtered replay moves at most; call again for more. */
  replayMatchingMax: 1_000,
  /** Consumers shown per group; the rest are counted (a Deployment adds one per pod, forever). */
  consumersPerGroup: 50,
  /** Longest filter text (group name, error substring). */
  filterMaxLength: 200,
  /** Longest stream or group name accepted in a URL. */
  nameMaxLength: 200,
  /**
   * Longest field value or reason a dead-letter list shows: an entry may hold values of 1 MiB, and
   * a page of them must stay small. Replays use the stored entry, never the shortened one.
   */
  shownValueMaxLength: 4_096,
} as const;

/**
 * Longest time an admin request may spend on Redis before it answers 503. Each command is bounded
 * by the connection's own timeout too; this bounds the sum (a filtered replay runs several).
 */
export const ADMIN_REQUEST_TIMEOUT_MS = 5_000;

/**
 * The throughput and lag history kept in memory for the dashboard: 10 minutes at 5 s. Samples are
 * at least `minSpacingMs` apart, so that a rate is never a count over a few milliseconds.
 */
export const HISTORY = { intervalMs: 5_000, samples: 120, minSpacingMs: 1_000 } as const;

export { STREAM_ID_PATTERN } from '@redis-streams-alerts/nestjs-redis-streams';
