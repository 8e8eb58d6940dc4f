import { registerAs, type ConfigType } from '@nestjs/config';
import { validate } from './env.validation.js';

/** Where processed alerts are delivered. */
export const alertsConfig = registerAs('alerts', () => {
  const env = validate(process.env);
  return {
    /** Undefined when ALERTS_WEBHOOK_URL is not set. May carry a token: do not log it. */
    webhookUrl: env.ALERTS_WEBHOOK_URL as string | undefined,
    webhookTimeoutMs: env.ALERTS_WEBHOOK_TIMEOUT_MS,
  };
});

export type AlertsConfig = ConfigType<typeof alertsConfig>;
