import { Logger, type INestApplication } from '@nestjs/common';
import { createApp } from './bootstrap.js';
import { appConfig, type AppConfig } from './config/app.config.js';
import { ConfigValidationError } from './config/env.validation.js';

/** Margin over SHUTDOWN_TIMEOUT_MS for the rest of the close (HTTP server, Redis connections). */
const SHUTDOWN_GRACE_MS = 5_000;

const logger = new Logger('Main');

/**
 * First SIGTERM/SIGINT: close the app (readiness goes down, consumers stop reading and drain, the
 * HTTP server and Redis connections close) and exit 0. A second signal, or a close that outlives
 * the timeout, exits 1 at once. Not `enableShutdownHooks()`: Nest re-raises the signal after
 * closing, so the exit code would be the signal's instead of 0.
 */
function exitOnSignals(app: INestApplication, shutdownTimeoutMs: number): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      logger.warn(`${signal} received again: exiting now without waiting for the shutdown`);
      process.exit(1);
    }
    closing = true;
    const deadlineMs = shutdownTimeoutMs + SHUTDOWN_GRACE_MS;
    logger.log(`${signal} received: shutting down (at most ${deadlineMs} ms)`);
    setTimeout(() => {
      logger.error(`Shutdown did not finish within ${deadlineMs} ms: exiting`);
      process.exit(1);
    }, deadlineMs).unref();
    app.close().then(
      () => {
        logger.log('Shutdown complete');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error(`Shutdown failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

async function main(): Promise<void> {
  const app = await createApp();
  const { port, role, shutdownTimeoutMs } = app.get<AppConfig>(appConfig.KEY);
  exitOnSignals(app, shutdownTimeoutMs);
  await app.listen(port);
  logger.log(`Listening on port ${port} (PROCESS_ROLE ${role})`);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigValidationError) {
    // The message already lists every problem; a stack trace would only hide it.
    process.stderr.write(`${error.message}\n`);
  } else {
    if (error instanceof Error) logger.error(`Startup failed: ${error.message}`, error.stack);
    else logger.error(`Startup failed: ${String(error)}`);
  }
  process.exit(1);
});
