import { MainProcess } from './main-process.js';
import { freePort } from '@redis-streams-alerts/nestjs-redis-streams/testing';
import { RedisTestbed, type RedisTestbedOptions } from './redis-testbed.js';
import { startApp, startReadyApp, type RunningApp } from './test-app.js';
import { waitFor } from './wait-for.js';
import { WebhookReceiver } from './webhook-receiver.js';

export interface AppTestbedOptions extends RedisTestbedOptions {
  /** A webhook receiver for the whole spec (`receiver`), answering as this function says or 200. */
  webhook?: true | WebhookReceiver['respond'];
}

/** The built service (`node dist/main.js`) started by a testbed, and where it listens. */
export interface ServedMain {
  main: MainProcess;
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
}

/**
 * What an app-level spec (or one `describe` of it) shares: one redis-server, perhaps a webhook
 * receiver, and the apps that run on them. Apps get `REDIS_URL` and `ALERTS_WEBHOOK_URL` filled in.
 */
export class AppTestbed extends RedisTestbed {
  private webhook?: WebhookReceiver;

  constructor({ webhook, ...options }: AppTestbedOptions = {}) {
    super(options);
    if (!webhook) return;
    beforeAll(async () => {
      this.webhook = this.own(await WebhookReceiver.start());
      if (webhook !== true) this.webhook.respond = webhook;
    });
  }

  /** The webhook receiver (option `webhook`), closed after the apps that deliver to it. */
  get receiver(): WebhookReceiver {
    if (!this.webhook) throw new Error('the testbed has no webhook receiver (yet)');
    return this.webhook;
  }

  /** Starts the whole app in this process and waits until it is ready. */
  async start(env: Record<string, string>): Promise<RunningApp> {
    return this.ownApp(await startReadyApp(this.env(env)));
  }

  /** Starts the whole app in this process as `env` alone sets it up, without waiting for readiness. */
  async startWithoutWaiting(env: Record<string, string>): Promise<RunningApp> {
    return this.ownApp(await startApp(this.env(env)));
  }

  /** Spawns `node dist/main.js` on a free port (unless `env` has a PORT). */
  async spawnMain(env: Record<string, string>): Promise<ServedMain> {
    const port = await freePort();
    const main = MainProcess.start({ PORT: String(port), ...this.env(env) });
    return { main: this.ownApp(main), url: `http://127.0.0.1:${port}` };
  }

  /** `spawnMain`, resolved once /health/ready answers 200; fails with its output if it exits first. */
  async startMain(env: Record<string, string>): Promise<ServedMain> {
    const served = await this.spawnMain(env);
    const { main, url } = served;
    await waitFor(
      async () => !main.running || (await readiness(url)) === 200,
      'the service to be ready',
      15_000,
      100,
    );
    if (!main.running) throw new Error(`dist/main.js exited at start\n${main.output()}`);
    return served;
  }

  private env(env: Record<string, string>): Record<string, string> {
    const filled: Record<string, string> = { REDIS_URL: this.redis.url };
    if (this.webhook) filled.ALERTS_WEBHOOK_URL = this.webhook.url;
    return { ...filled, ...env };
  }
}

async function readiness(url: string): Promise<number> {
  const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(3_000) });
  await response.arrayBuffer();
  return response.status;
}

/** Registers the hooks of an app-level spec (or `describe`): see `RedisTestbed`. */
export function appTestbed(options: AppTestbedOptions = {}): AppTestbed {
  return new AppTestbed(options);
}
