import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { isAlertmanagerNotification } from './alerts/alertmanager/alertmanager-route.js';
import { AppModule } from './app.module.js';
import { CreateAlertDto } from './alerts/create-alert.dto.js';
import { validCreateAlert } from './alerts/create-alert.shortcut.js';
import { RequestValidationPipe } from './common/request-validation.pipe.js';
import { appConfig, type AppConfig } from './config/app.config.js';
import { validate } from './config/env.validation.js';
import { createLogger } from './config/log-format.js';
import { setupOpenApi } from './openapi.js';

/**
 * Builds the application from the environment without listening and without signal handlers:
 * `main.ts` adds those, and the e2e tests call this in-process. Throws `ConfigValidationError`,
 * listing every problem, before Nest starts when the environment is invalid.
 */
export async function createApp(): Promise<NestExpressApplication> {
  // The only validation: before Nest, so that a bad environment fails with one clear error and the
  // log level and format are known before Nest prints its first line; the modules get the result.
  const env = validate(process.env);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(env), {
    logger: createLogger(env),
    // Registered below with our limit; bodies above it are answered with 413.
    bodyParser: false,
    // Let the caller see startup errors instead of an abort() with a core dump.
    abortOnError: false,
  });
  app.disable('x-powered-by');
  const { bodyLimitBytes, alertmanager, role } = app.get<AppConfig>(appConfig.KEY);
  // Alertmanager's notifications carry whole groups of alerts: their route has its own limit. The
  // first parser takes them; the second leaves a body that is already parsed alone.
  app.useBodyParser('json', {
    limit: alertmanager.bodyLimitBytes,
    type: isAlertmanagerNotification,
  });
  app.useBodyParser('json', { limit: bodyLimitBytes });
  app.useGlobalPipes(new RequestValidationPipe(new Map([[CreateAlertDto, validCreateAlert]])));
  // A worker has no API to describe.
  if (role !== 'worker') setupOpenApi(app);
  return app;
}
