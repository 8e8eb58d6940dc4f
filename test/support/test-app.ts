import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/bootstrap.js';

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
