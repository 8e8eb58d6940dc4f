import type { Redis } from 'ioredis';
import { DLQ_FIELD, FIELD } from '@redis-streams-alerts/nestjs-redis-streams';
import { LimitedReceiver, type ReceiverMode } from '../support/limited-receiver.js';
import { TestRedis } from '@redis-streams-alerts/nestjs-redis-streams/testing';
import { ServiceProcess } from '../support/service-process.js';
import { sleep } from '../support/wait-for.js';
import { WebhookCallLog } from '../support/webhook-call-log.js';
import { DEAD_LETTERS, STREAM, WEBHOOK_GROUP, toRecord } from './fault-lab.js';

export { DEAD_LETTERS, STREAM, WEBHOOK_GROUP };

/** Key of the lab's instances when it has one (`apiKey: true`). */
export const LAB_API_KEY = 'flow-lab-api-key-0123456789';

/**
 * What the instances get beyond REDIS_URL and ALERTS_WEBHOOK_URL: nothing that changes delivery.
 * The acceptance criteria hold for the service's default settings, so a scenario sets only what
 * it is about.
 */
const QUIET_ENV: Readonly<Record<string, string>> = { LOG_LEVEL: 'warn', NO_COLOR: '1' };

export interface FlowLabOptions {
  /** Instances to start (default 1), named `<name>-1`, `<name>-2`, ... */
  instances?: number;
  /** Environment of every instance, over the defaults. */
  env?: Record<string, string>;
  /** The receiver's mode at the start (default healthy). */
  receiver?: ReceiverMode;
  /** Start the instances with API_KEY=LAB_API_KEY; POSTs and admin calls then send it. */
  apiKey?: boolean;
}

export interface LabDeadLetter {
  eventId: string;
  originalId: string;
  group: string;
  error: string;
  attempts: number;
}

/**
 * A scenario of the flow-control acceptance tests: a redis-server, the receiver as a process of
 * its own, N instances of the built service (`dist/main.js`) that log their webhook calls
 * (`WebhookCallLog`), and the alerts this scenario got accepted (202), by eventId.
 */
export class FlowLab {
  readonly services: ServiceProcess[] = [];
  /** eventId → when POST /alerts answered 202. */
  readonly accepted = new Map<string, number>();
  readonly admin: Redis;
  readonly callLog: WebhookCallLog;
  private readonly env: Record<string, string>;
  private seq = 0;
  private trafficLoop?: Promise<void>;
  private trafficStopped = false;

  private constructor(
    readonly name: string,
    readonly redis: TestRedis,
    readonly receiver: LimitedReceiver,
    private readonly options: FlowLabOptions,
  ) {
    this.callLog = new WebhookCallLog(receiver.origin);
    this.env = {
      ...QUIET_ENV,
      REDIS_URL: redis.url,
      ALERTS_WEBHOOK_URL: receiver.url,
      ...(options.apiKey && { API_KEY: LAB_API_KEY }),
      ...this.callLog.env,
      ...options.env,
    };
    this.admin = redis.client({ maxRetriesPerRequest: 1 });
    this.admin.on('error', () => undefined);
  }

  static async open(name: string, options: FlowLabOptions = {}): Promise<FlowLab> {
    const redis = await TestRedis.start();
    let receiver: LimitedReceiver | undefined;
    try {
      receiver = await LimitedReceiver.start(options.receiver);
    } catch (error) {
      await redis.close();
      throw error;
    }
    const lab = new FlowLab(name, redis, receiver, options);
    try {
      for (let i = 0; i < (options.instances ?? 1); i++) await lab.addService();
    } catch (error) {
      await lab.close();
      throw error;
    }
    return lab;
  }

  async addService(): Promise<ServiceProcess> {
    const service = await ServiceProcess.start(
      `${this.name}-${this.services.length + 1}`,
      this.env,
    );
    this.services.push(service);
    return service;
  }

  /** Headers every request to an instance carries. */
  private headers(): Record<string, string> {
    return this.options.apiKey ? { 'x-api-key': LAB_API_KEY } : {};
  }

  /** POSTs one alert with `eventId` as its Idempotency-Key; returns the status (0: no answer). */
  async post(service: ServiceProcess, eventId = `${this.name}-${++this.seq}`): Promise<number> {
    try {
      const response = await fetch(`${service.url}/alerts`, {
        method: 'POST',
        headers: {
          ...this.headers(),
          'content-type': 'application/json',
          'idempotency-key': eventId,
        },
        body: JSON.stringify({
          message: `flow test alert ${eventId}`,
          severity: 'critical',
          source: 'flow-lab',
        }),
        signal: AbortSignal.timeout(10_000),
      });
      await response.arrayBuffer();
      if (response.status === 202) this.accepted.set(eventId, Date.now());
      return response.status;
    } catch {
      return 0;
    }
  }

  /**
   * A storm: `count` alerts POSTed as fast as `workers` clients can, round-robin over the
   * instances. Fails unless every one was accepted. Resolves with the time it started.
   */
  async storm(count: number, workers = 16): Promise<number> {
    const started = Date.now();
    let next = 0;
    const failures: number[] = [];
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (next < count) {
          const n = next++;
          const status = await this.post(this.services[n % this.services.length]);
          if (status !== 202) failures.push(status);
        }
      }),
    );
    if (failures.length > 0) {
      throw new Error(`${failures.length} POSTs of the storm failed: ${failures.join(' ')}`);
    }
    return started;
  }

  /** Keeps POSTing `perSecond` alerts a second, round-robin over the running instances. */
  startTraffic(perSecond: number): void {
    this.trafficStopped = false;
    const pauseMs = 1_000 / perSecond;
    this.trafficLoop = (async () => {
      for (let n = 0; !this.trafficStopped; n++) {
        const running = this.services.filter((service) => service.state === 'running');
        const due = Date.now() + pauseMs;
        if (running.length > 0) await this.post(running[n % running.length]);
        await sleep(Math.max(0, due - Date.now()));
      }
    })();
  }

  async stopTraffic(): Promise<void> {
    this.trafficStopped = true;
    await this.trafficLoop;
  }

  /** Accepted alerts the receiver has not answered with a 2xx (yet). */
  async undelivered(): Promise<string[]> {
    const delivered = await this.receiver.delivered();
    return [...this.accepted.keys()].filter((key) => !delivered.has(key));
  }

  /**
   * Waits until every accepted alert (but those in `except`) was delivered, or `timeoutMs` passed;
   * resolves with when the last of them was first delivered, or undefined on a timeout.
   */
  async allDelivered(timeoutMs: number, except: string[] = []): Promise<number | undefined> {
    const deadline = Date.now() + timeoutMs;
    const keys = [...this.accepted.keys()].filter((key) => !except.includes(key));
    while (Date.now() < deadline) {
      const delivered = await this.receiver.delivered();
      const times = keys.map((key) => delivered.get(key));
      if (times.every((at) => at !== undefined)) return Math.max(...(times as number[]));
      // Dead letters are not retried: once every missing alert is one, waiting longer is pointless.
      const missing = keys.filter((key) => !delivered.has(key));
      const dead = new Set((await this.deadLetters()).map((letter) => letter.eventId));
      if (missing.every((key) => dead.has(key))) return undefined;
      await sleep(250);
    }
    return undefined;
  }

  async deadLetters(): Promise<LabDeadLetter[]> {
    const entries = (await this.admin.xrange(DEAD_LETTERS, '-', '+')) as Array<[string, string[]]>;
    return entries
      .map(([, flat]) => toRecord(flat))
      .map((fields) => ({
        eventId: String(fields[FIELD.eventId]),
        originalId: String(fields[DLQ_FIELD.originalId]),
        group: String(fields[DLQ_FIELD.group]),
        error: String(fields[DLQ_FIELD.error]),
        attempts: Number(fields[DLQ_FIELD.attempts]),
      }));
  }

  /** The stream entry id of an accepted alert, from its fields. */
  async entryIdOf(eventId: string): Promise<string | undefined> {
    const entries = (await this.admin.xrange(STREAM, '-', '+')) as Array<[string, string[]]>;
    return entries.find(([, flat]) => toRecord(flat)[FIELD.eventId] === eventId)?.[0];
  }

  /** A call to the admin API of `service` (with the API key when the lab has one). */
  async adminCall(service: ServiceProcess, method: string, path: string): Promise<number> {
    const response = await fetch(`${service.url}/admin/${path}`, {
      method,
      headers: this.headers(),
      signal: AbortSignal.timeout(10_000),
    });
    await response.arrayBuffer();
    return response.status;
  }

  /** A summary for failure messages: what is left, what the receiver saw, the last log lines. */
  async describe(): Promise<string> {
    const calls = await this.receiver.calls();
    const byStatus = new Map<number, number>();
    for (const call of calls) byStatus.set(call.status, (byStatus.get(call.status) ?? 0) + 1);
    const undelivered = await this.undelivered();
    const logs = this.services.map((service) => service.output().split('\n').slice(-15).join('\n'));
    return [
      `${this.name}: accepted ${this.accepted.size}, undelivered ${undelivered.length} ` +
        `(${undelivered.slice(0, 5).join(' ')}), dead letters ${await this.admin.xlen(DEAD_LETTERS)}`,
      `receiver calls ${calls.length}: ${JSON.stringify([...byStatus])}; ` +
        `calls started by the services ${this.callLog.calls().length}`,
      ...logs,
    ].join('\n');
  }

  async close(): Promise<void> {
    await this.stopTraffic();
    await Promise.all(this.services.map((service) => service.dispose()));
    this.admin.disconnect();
    await this.receiver.close();
    this.callLog.close();
    await this.redis.close();
  }
}

/** Problems found by a scenario's checks, thrown together with the lab's state. */
export async function failOn(lab: FlowLab, problems: Array<string | false>): Promise<void> {
  const found = problems.filter((problem): problem is string => problem !== false);
  if (found.length > 0) throw new Error(`- ${found.join('\n- ')}\n${await lab.describe()}`);
}
