import { registerAs, type ConfigType } from '@nestjs/config';
import { validate } from './env.validation.js';
import { logFormatFor } from './log-format.js';

/** HTTP side of the service: port, API key, body limit, logging and shutdown. */
export const appConfig = registerAs('app', () => {
  const env = validate(process.env);
  return {
    port: env.PORT,
    /** When undefined, the API does not ask for a key. */
    apiKey: env.API_KEY,
    bodyLimitBytes: env.HTTP_BODY_LIMIT_BYTES,
    logLevel: env.LOG_LEVEL,
    logFormat: logFormatFor(env),
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
  };
});

export type AppConfig = ConfigType<typeof appConfig>;
