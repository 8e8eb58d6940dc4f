import type { ConfigType } from '@nestjs/config';
import { configNamespace } from './config-namespace.js';
import { logFormatFor } from './log-format.js';

/** The process as a whole: its role, the HTTP side (port, API key, body limit), logging and shutdown. */
export const appConfig = configNamespace('app', (env) => ({
  /** all: API and consumers; api: the HTTP routes without consumers; worker: consumers, health, metrics. */
  role: env.PROCESS_ROLE,
  port: env.PORT,
  /** When undefined, the API does not ask for a key. */
  apiKey: env.API_KEY,
  bodyLimitBytes: env.HTTP_BODY_LIMIT_BYTES,
  /** POST /alerts/alertmanager: its body limit and the most alerts in one notification. */
  alertmanager: {
    bodyLimitBytes: env.ALERTMANAGER_BODY_LIMIT_BYTES,
    maxAlerts: env.ALERTMANAGER_MAX_ALERTS,
  },
  logLevel: env.LOG_LEVEL,
  logFormat: logFormatFor(env),
  shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
}));

export type AppConfig = ConfigType<typeof appConfig>;
