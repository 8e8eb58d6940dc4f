import type { ConfigType } from '@nestjs/config';
import { receiversOf } from './alert-receivers.js';
import { configNamespace } from './config-namespace.js';

/** The alerts stream (partitions, retention) and where processed alerts are delivered. */
export const alertsConfig = configNamespace('alerts', (env) => ({
  /**
   * Where alerts go, each receiver in its own consumer group: those of ALERTS_RECEIVERS_FILE, or
   * the one ALERTS_WEBHOOK_URL makes. URLs, headers and keys are secrets: never log them.
   */
  receivers: receiversOf(env),
  /** Set when the receivers come from a file (ALERTS_RECEIVERS_FILE). */
  receiversFile: env.ALERTS_RECEIVERS_FILE as string | undefined,
  /** 0: one `alerts` stream; otherwise that many partitions. */
  partitions: env.ALERTS_PARTITIONS,
  /**
   * The alerts stream keeps about this many newest entries, none older than the age limit (0:
   * no such limit); entries some group has not received and acknowledged are never trimmed.
   */
  retention: { maxLen: env.RETENTION_MAX_LEN, maxAgeMs: env.RETENTION_MAX_AGE_MS },
  deadLetters: {
    /** Dead letters have no count cap; 0: kept until replayed or deleted. */
    maxAgeMs: env.DEAD_LETTER_MAX_AGE_MS,
    /** The storage alarm fires from this many dead letters in one stream; 0: never. */
    alarmCount: env.DEAD_LETTER_ALARM_COUNT,
  },
}));

export type AlertsConfig = ConfigType<typeof alertsConfig>;
