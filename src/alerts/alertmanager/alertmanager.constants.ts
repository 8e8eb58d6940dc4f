import type { Severity } from '../alerts.constants.js';

/** Every eventId of an alert relayed from Alertmanager or Grafana starts so. */
export const RELAYED_EVENT_ID_PREFIX = 'am-';

/** Hex digits of the eventId's hash after the prefix: 128 bits. */
export const RELAYED_EVENT_ID_HASH_LENGTH = 32;

/** Hex digits of a fingerprint derived from the labels, as long as Alertmanager's own. */
export const DERIVED_FINGERPRINT_LENGTH = 16;

/**
 * What a 503 asks the sender to wait, in seconds. Alertmanager retries with its own backoff
 * whatever it says; other senders may honour it.
 */
export const RETRY_AFTER_SECONDS = 5;

/**
 * The values of a `severity` label (compared in lower case) and the severity each means. The
 * three severities themselves map to themselves; any other value, and an alert without the label,
 * is critical, as an alert of POST /alerts without a severity: an unknown level is treated as the
 * worst case, not dropped. `error` is critical here, while PagerDuty receivers still see `error`.
 */
export const SEVERITY_LABEL_VALUES: Readonly<Record<string, Severity>> = {
  critical: 'critical',
  crit: 'critical',
  fatal: 'critical',
  emergency: 'critical',
  page: 'critical',
  high: 'critical',
  major: 'critical',
  error: 'critical',
  warning: 'warning',
  warn: 'warning',
  medium: 'warning',
  minor: 'warning',
  info: 'info',
  informational: 'info',
  notice: 'info',
  low: 'info',
  none: 'info',
};
