import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/bootstrap.js';
import { waitFor } from './wait-for.js';

export interface RunningApp {
  app: INestApplication;
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the whole application in this process, configured only through environment variables as
 * in production, listening on a free port. The previous environment is restored on close.
 */
export async function startApp(env: Record<string, string>): Promise<RunningApp> {
  const saved = { ...process.env };
  Object.assign(process.env, { PORT: '0', LOG_LEVEL: 'error', ...env });
  try {
    const app = await createApp();
    await app.listen(0, '127.0.0.1');
    const port = (app.getHttpServer().address() as AddressInfo).port;
    return {
      app,
      url: `http://127.0.0.1:${port}`,
      close: async () => {
        await app.close();
        process.env = saved;
      },
    };
  } catch (error) {
    process.env = saved;
    throw error;
  }
}

/** Settings that keep e2e tests fast: short blocking reads, claims and shutdowns. */
const FAST_TEST_ENV: Record<string, string> = {
  CLAIM_MIN_IDLE_MS: '5000',
  CONSUMER_BLOCK_MS: '200',
  SHUTDOWN_TIMEOUT_MS: '2000',
};

/**
 * `startApp` with the fast test settings (overridable by `env`), resolved once `/health/ready`
 * answers 200, so that the first requests of a test do not meet a connection still coming up.
 */
export async function startReadyApp(env: Record<string, string>): Promise<RunningApp> {
  const running = await startApp({ ...FAST_TEST_ENV, ...env });
  try {
    await waitFor(async () => {
      const response = await fetch(`${running.url}/health/ready`, {
        signal: AbortSignal.timeout(2_000),
      });
      return response.status === 200;
    }, 'the app to be ready');
  } catch (error) {
    await running.close();
    throw error;
  }
  return running;
}
