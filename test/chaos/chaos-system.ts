import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { BASE_ENV } from '../faults/fault-lab.js';
import { RecordingWebhook, type WebhookAnswer } from '../faults/recording-webhook.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { TestRedis } from '@redis-streams-alerts/nestjs-redis-streams/testing';
import { ServiceProcess } from '../support/service-process.js';
import { sleep } from '../support/wait-for.js';
import { PROCESS_COUNTS, RETRIES, WAITS } from './chaos.constants.js';
import type { History } from './history.js';

/** The built entry point of the ordered workers (compiled next to this file). */
const WORKER_JS = fileURLToPath(new URL('./ordered-worker.js', import.meta.url));

/**
 * Redis: append-only with `appendfsync always`, so that a kill -9 of Redis loses nothing it
 * acknowledged: with `everysec` the last second of 202s could go, which is Redis's documented
 * durability and not the library's. `noeviction`, as docs/operations.md requires.
 */
const REDIS_ARGS = ['--appendfsync', 'always', '--maxmemory-policy', 'noeviction'];

/**
 * The alerts instances: the fault lab's fast claims and reads, the run's retries, a short webhook
 * timeout (so a stalled receiver costs an attempt quickly) and a retention cap, so that trimming
 * runs under the faults too.
 */
const INSTANCE_ENV: Record<string, string> = {
  ...BASE_ENV,
  RETRY_MAX_ATTEMPTS: String(RETRIES.maxAttempts),
  RETRY_BACKOFF_BASE_MS: String(RETRIES.backoffBaseMs),
  RETRY_BACKOFF_MAX_MS: String(RETRIES.backoffMaxMs),
  ALERTS_WEBHOOK_TIMEOUT_MS: String(RETRIES.webhookTimeoutMs),
  RETENTION_MAX_LEN: '200',
  RETENTION_INTERVAL_MS: '1000',
};

/** How the receiver answers right now. */
export type ReceiverMode = 'ok' | '500' | '429' | 'stall';

/** One process of the run and the proxy it reaches Redis through. */
export interface ChaosProcess {
  name: string;
  kind: 'instance' | 'worker';
  service: ServiceProcess;
  proxy: FaultProxy;
}

/**
 * Everything a chaos run breaks: one redis-server, a fault proxy in front of it per process (and
 * one for the ordered publisher), the recording receiver, the alerts instances (the built service)
 * and the ordered workers. It records each process exit in the history, telling the exits it
 * caused from those it did not.
 */
export class ChaosSystem {
  readonly processes: ChaosProcess[] = [];
  /** Straight to Redis: for the checks and for breaking Redis on purpose. */
  readonly admin: Redis;
  receiverMode: ReceiverMode = 'ok';
  private closing = false;

  private constructor(
    readonly redis: TestRedis,
    readonly receiver: RecordingWebhook,
    /** The ordered publisher's way to Redis. */
    readonly publisherProxy: FaultProxy,
  ) {
    this.admin = new Redis(redis.port, '127.0.0.1', {
      maxRetriesPerRequest: 1,
      commandTimeout: 5_000,
    });
    this.admin.on('error', () => undefined);
    receiver.answer = () => this.answer();
  }

  static async open(history: History): Promise<ChaosSystem> {
    const redis = await TestRedis.start({ appendOnly: true, args: REDIS_ARGS });
    const receiver = await RecordingWebhook.start();
    const publisherProxy = await FaultProxy.start(redis.port);
    const system = new ChaosSystem(redis, receiver, publisherProxy);
    try {
      const starts: Array<Promise<void>> = [];
      for (let i = 1; i <= PROCESS_COUNTS.instances; i++) {
        starts.push(system.startProcess(`alerts-${i}`, 'instance', history));
      }
      for (let i = 1; i <= PROCESS_COUNTS.workers; i++) {
        starts.push(system.startProcess(`ordered-${i}`, 'worker', history));
      }
      await Promise.all(starts);
      // Listed in a fixed order, whatever order they became ready in: the schedule names them by index.
      system.processes.sort((a, b) => a.name.localeCompare(b.name));
    } catch (error) {
      await system.close();
      throw error;
    }
    return system;
  }

  /** Alerts instances that answer HTTP now. */
  liveInstances(): ServiceProcess[] {
    return this.processes
      .filter((p) => p.kind === 'instance' && p.service.state === 'running')
      .map((p) => p.service);
  }

  /** Every proxy: each process's and the publisher's. */
  allProxies(): FaultProxy[] {
    return [...this.processes.map((p) => p.proxy), this.publisherProxy];
  }

  /** Starts a killed (or crashed) process again; records its exit when it ends. */
  async restart(member: ChaosProcess, history: History): Promise<void> {
    await member.service.restart(WAITS.readyMs);
    this.watchExit(member, history);
  }

  /**
   * Ends every fault: the receiver answers, the proxies pass, Redis runs and takes writes, every
   * process runs. Used once the fault phase is over, whatever the schedule left behind.
   */
  async healAll(history: History): Promise<string[]> {
    const notes: string[] = [];
    this.receiverMode = 'ok';
    await Promise.all(this.allProxies().map((proxy) => proxy.heal()));
    if (!this.redis.running) await this.redis.restart();
    this.redis.thaw();
    await this.untilRedisAnswers(() => this.admin.config('SET', 'maxmemory', '0'));
    for (const member of this.processes) {
      if (member.service.state === 'stopped') member.service.thaw();
      if (!member.service.running) {
        notes.push(`${member.name} was not running at the end of the faults: restarted`);
        await this.restart(member, history).catch((error: unknown) =>
          notes.push(`${member.name} did not become ready again: ${String(error)}`),
        );
      }
    }
    return notes;
  }

  /** Retries `command` for up to 10 s while Redis comes back (restart, AOF load). */
  async untilRedisAnswers<T>(command: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        return await command();
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(200);
      }
    }
  }

  /**
   * SIGTERM to every process at once; each must exit 0 (the exit watcher records how it ended).
   * One that does not exit in time is killed.
   */
  async terminateAll(): Promise<void> {
    await Promise.all(
      this.processes.map(async ({ service }) => {
        if (service.state === 'stopped') service.thaw();
        if (!service.running) return;
        await service.terminate(WAITS.exitMs).catch(() => undefined);
      }),
    );
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.processes.map((p) => p.service.dispose()));
    this.admin.disconnect();
    await this.receiver.close().catch(() => undefined);
    await Promise.all(this.allProxies().map((proxy) => proxy.close().catch(() => undefined)));
    await this.redis.close();
  }

  private async startProcess(
    name: string,
    kind: ChaosProcess['kind'],
    history: History,
  ): Promise<void> {
    const proxy = await FaultProxy.start(this.redis.port);
    try {
      const env: Record<string, string> =
        kind === 'instance'
          ? { ...INSTANCE_ENV, ALERTS_WEBHOOK_URL: this.receiver.url, REDIS_URL: proxy.url }
          : { RECEIVER_URL: this.receiver.url, REDIS_URL: proxy.url };
      const script = kind === 'instance' ? undefined : WORKER_JS;
      const service = await ServiceProcess.start(name, env, WAITS.readyMs, script);
      const member: ChaosProcess = { name, kind, service, proxy };
      this.processes.push(member);
      this.watchExit(member, history);
    } catch (error) {
      await proxy.close();
      throw error;
    }
  }

  /** Records how the current life of `process` ends: killed by the schedule, stopped at the end, or by itself. */
  private watchExit({ name, service }: ChaosProcess, history: History): void {
    const life = service.lives;
    void service.exited.then((exit) => {
      if (this.closing) return;
      const cause =
        service.state === 'killed'
          ? 'killed'
          : service.state === 'exited'
            ? 'terminated'
            : 'itself';
      history.exits.push({
        process: name,
        life,
        at: Date.now(),
        code: exit.code,
        signal: exit.signal,
        cause,
        stderrTail: cause === 'killed' ? undefined : service.stderr().slice(-1_500),
      });
    });
  }

  private answer(): WebhookAnswer {
    switch (this.receiverMode) {
      case 'ok':
        return 200;
      case '500':
        return 500;
      case '429':
        return { status: 429, headers: { 'retry-after': '1' } };
      case 'stall':
        // Past the webhook timeout, so the caller gives up first; then a failure, never a late 2xx.
        return sleep(RETRIES.webhookTimeoutMs + 1_000).then(() => 503);
    }
  }
}
