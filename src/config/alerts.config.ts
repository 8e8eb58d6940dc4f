import type { ConfigType } from '@nestjs/config';
import { configNamespace } from './config-namespace.js';

/** The alerts stream (partitions, retention) and where processed alerts are delivered. */
export const alertsConfig = configNamespace('alerts', (env) => ({
  /** Undefined when ALERTS_WEBHOOK_URL is not set. May carry a token: do not log it. */
  webhookUrl: env.ALERTS_WEBHOOK_URL as string | undefined,
  webhookTimeoutMs: env.ALERTS_WEBHOOK_TIMEOUT_MS,
  /** Webhook calls per second across every instance; undefined: no limit. */
  webhookRateLimit: env.ALERTS_WEBHOOK_RATE_LIMIT as number | undefined,
  /** Age (from acceptance) at which an undelivered alert is dead-lettered; 0: never. */
  deliveryMaxAgeMs: env.ALERTS_DELIVERY_MAX_AGE_MS,
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
