import { Redis } from 'ioredis';
import { FaultProxy } from '../support/fault-proxy.js';
import { TestRedis } from '@redis-streams-alerts/nestjs-redis-streams/testing';
import { ServiceProcess } from '../support/service-process.js';
import { sleep } from '../support/wait-for.js';
import { AlertTraffic } from './alert-traffic.js';
import { RecordingWebhook } from './recording-webhook.js';

export const STREAM = 'alerts';
export const DEAD_LETTERS = 'alerts:dlq';
export const WEBHOOK_GROUP = 'alerts-webhook';

/** Settings of every instance: fast claims, retries and reads, so faults heal within seconds. */
export const BASE_ENV: Readonly<Record<string, string>> = {
  CLAIM_MIN_IDLE_MS: '1500',
  RETRY_BACKOFF_BASE_MS: '200',
  RETRY_BACKOFF_MAX_MS: '2000',
  CONSUMER_BLOCK_MS: '200',
  SHUTDOWN_TIMEOUT_MS: '3000',
  PUBLISH_TIMEOUT_MS: '2000',
  CONSUMER_CONCURRENCY: '8',
  LOG_LEVEL: 'warn',
};

// eslint-disable-next-line no-control-regex
const ANSI_COLOURS = /\x1b\[[0-9;]*m/g;

export const CLAIM_MIN_IDLE_MS = Number(BASE_ENV.CLAIM_MIN_IDLE_MS);

/** One line of the summary table. */
export interface ScenarioRow {
  scenario: string;
  accepted: number;
  delivered: number;
  lost: number;
  duplicates: number;
  /** Delivered although never confirmed to the producer (a 503 or lost reply whose write went through). */
  unconfirmed: number;
  /** Most webhook calls in flight at once / what CONSUMER_CONCURRENCY allows. */
  peakCalls: string;
  recoverMs: number | undefined;
  notes: string;
}

export interface LabOptions {
  /** Instances to start (default 2), named `<scenario>-1`, `<scenario>-2`, ... */
  instances?: number;
  /** Environment of every instance, over BASE_ENV. */
  env?: Record<string, string>;
  /** Instances reach Redis through the proxy (default) or directly. */
  servicesVia?: 'proxy' | 'redis';
  /** The direct XADD producer reaches Redis directly (default) or through the proxy. */
  producerVia?: 'proxy' | 'redis';
}

interface GroupInfo {
  stream: string;
  name: string;
  pending: number;
  lastDeliveredId: string;
}

/** What is still to do in Redis; all zero once the system has settled. */
export interface Backlog {
  /** Pending entries per `stream/group`. */
  pending: Record<string, number>;
  /** Groups that have not read up to the end of their stream. */
  behind: string[];
  /** Entries waiting for a scheduled retry, over all groups. */
  retries: number;
}

export interface DeadLetter {
  id: string;
  originalId: string;
  group: string;
  error: string;
  attempts: string;
}

/**
 * Everything one scenario runs on: a durable redis-server (appendfsync always), the fault proxy in
 * front of it, the recording webhook, 2-3 instances of the built service, a direct producer, and
 * the checks that prove nothing accepted was lost.
 */
export class FaultLab {
  readonly services: ServiceProcess[] = [];
  readonly traffic: AlertTraffic;
  /** Plain ioredis client of a producer that writes to the stream itself (XADD). */
  readonly producer: Redis;
  /** Client for checks and for breaking Redis on purpose; straight to Redis. */
  readonly admin: Redis;
  /** When the last fault ended; recovery time is measured from here. */
  faultEndedAt?: number;
  /** Resolves with the recovery time of the last fault (see `markFaultEnded`). */
  private recovery?: Promise<number | undefined>;
  private closed = false;
  private readonly env: Record<string, string>;

  private constructor(
    readonly name: string,
    readonly redis: TestRedis,
    readonly proxy: FaultProxy,
    readonly webhook: RecordingWebhook,
    private readonly options: LabOptions,
  ) {
    this.traffic = new AlertTraffic(name);
    this.env = {
      ...BASE_ENV,
      ALERTS_WEBHOOK_URL: webhook.url,
      REDIS_URL: options.servicesVia === 'redis' ? redis.url : proxy.url,
      ...options.env,
    };
    const producerPort = options.producerVia === 'proxy' ? proxy.port : redis.port;
    // A producer as people write them: ioredis defaults (offline queue, resend after reconnect),
    // plus a command timeout so that no XADD of the test waits forever.
    this.producer = new Redis(producerPort, '127.0.0.1', { commandTimeout: 3_000 });
    this.producer.on('error', () => undefined);
    this.admin = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    this.admin.on('error', () => undefined);
  }

  static async open(name: string, options: LabOptions = {}): Promise<FaultLab> {
    const redis = await TestRedis.start({ appendOnly: true, args: ['--appendfsync', 'always'] });
    const proxy = await FaultProxy.start(redis.port);
    const webhook = await RecordingWebhook.start();
    const lab = new FaultLab(name, redis, proxy, webhook, options);
    try {
      const count = options.instances ?? 2;
      await Promise.all(Array.from({ length: count }, () => lab.addService()));
    } catch (error) {
      await lab.close();
      throw error;
    }
    return lab;
  }

  /** Starts one more instance with the lab's environment (and `extra` over it). */
  async addService(extra: Record<string, string> = {}): Promise<ServiceProcess> {
    const name = `${this.name}-${this.services.length + 1}`;
    const slot = this.services.length;
    this.services.length += 1;
    const service = await ServiceProcess.start(name, { ...this.env, ...extra });
    this.services[slot] = service;
    return service;
  }

  /** Instances that answer HTTP now (not killed, frozen or shut down). */
  live(): ServiceProcess[] {
    return this.services.filter((service) => service?.state === 'running');
  }

  /**
   * Notes that the fault is over and starts measuring the time to recover: until every alert
   * accepted before now has been delivered and every entry pending now (in any group) has been
   * acknowledged, i.e. until the work the fault disrupted is done.
   */
  markFaultEnded(): void {
    const endedAt = Date.now();
    this.faultEndedAt = endedAt;
    const keys = [...this.traffic.accepted.keys()];
    this.recovery = (async () => {
      let pendingThen: Map<string, Set<string>> | undefined;
      while (Date.now() < endedAt + 30_000 && !this.closed) {
        try {
          pendingThen ??= await this.pendingIds();
          const delivered = keys.every((key) => this.webhook.delivered.has(key));
          if (delivered && !(await this.anyStillPending(pendingThen))) return Date.now() - endedAt;
        } catch {
          // Redis may be coming back: look again.
        }
        await sleep(50);
      }
      return undefined;
    })();
  }

  /** Ids of the entries pending now, per `stream group`. */
  private async pendingIds(): Promise<Map<string, Set<string>>> {
    const result = new Map<string, Set<string>>();
    for (const group of await this.groups()) {
      const rows = (await this.admin.xpending(group.stream, group.name, '-', '+', 10_000)) as Array<
        [string]
      >;
      result.set(`${group.stream} ${group.name}`, new Set(rows.map(([id]) => id)));
    }
    return result;
  }

  private async anyStillPending(then: Map<string, Set<string>>): Promise<boolean> {
    const now = await this.pendingIds();
    for (const [label, ids] of then) {
      for (const id of now.get(label) ?? []) if (ids.has(id)) return true;
    }
    return false;
  }

  async groups(): Promise<GroupInfo[]> {
    const groups: GroupInfo[] = [];
    for (const stream of [STREAM, DEAD_LETTERS]) {
      if ((await this.admin.exists(stream)) === 0) continue;
      const replies = (await this.admin.xinfo('GROUPS', stream)) as unknown[][];
      for (const flat of replies) {
        const info = toRecord(flat);
        groups.push({
          stream,
          name: String(info.name),
          pending: Number(info.pending),
          lastDeliveredId: String(info['last-delivered-id']),
        });
      }
    }
    return groups;
  }

  async backlog(): Promise<Backlog> {
    const pending: Record<string, number> = {};
    const behind: string[] = [];
    let retries = 0;
    for (const group of await this.groups()) {
      const label = `${group.stream}/${group.name}`;
      // XPENDING itself, not only XINFO's count: it is what a consumer would see.
      const [count] = (await this.admin.xpending(group.stream, group.name)) as [number];
      pending[label] = Number(count);
      const stream = toRecord((await this.admin.xinfo('STREAM', group.stream)) as unknown[]);
      if (String(stream['last-generated-id']) !== group.lastDeliveredId) behind.push(label);
      retries += await this.admin.zcard(`${group.stream}:retries:${group.name}`);
    }
    return { pending, behind, retries };
  }

  static isEmpty(backlog: Backlog): boolean {
    return (
      Object.values(backlog.pending).every((count) => count === 0) &&
      backlog.behind.length === 0 &&
      backlog.retries === 0
    );
  }

  /** Accepted alerts the webhook has not taken (yet). */
  lost(): string[] {
    return [...this.traffic.accepted.keys()].filter((key) => !this.webhook.delivered.has(key));
  }

  /** Deliveries beyond the first, over every key. */
  duplicates(): number {
    let extra = 0;
    for (const count of this.webhook.delivered.values()) extra += count - 1;
    return extra;
  }

  /**
   * Waits until every accepted alert was delivered and Redis has nothing left to do (no pending
   * entry, no unread entry, no scheduled retry) in any group. Returns when that happened, or
   * undefined when it did not within `timeoutMs`.
   */
  async settle(timeoutMs = 20_000): Promise<number | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        if (this.lost().length === 0 && FaultLab.isEmpty(await this.backlog())) return Date.now();
      } catch {
        // Redis may still be coming back: try again.
      }
      await sleep(100);
    }
    return undefined;
  }

  async deadLetters(): Promise<DeadLetter[]> {
    const entries = (await this.admin.xrange(DEAD_LETTERS, '-', '+')) as Array<[string, string[]]>;
    return entries.map(([id, flat]) => {
      const fields = toRecord(flat);
      return {
        id,
        originalId: String(fields['dlq-original-id']),
        group: String(fields['dlq-group']),
        error: String(fields['dlq-error']),
        attempts: String(fields['dlq-attempts']),
      };
    });
  }

  /**
   * The end-of-scenario checks: waits for the system to settle, records the table row, then fails
   * with every broken invariant at once: an accepted alert not delivered; pending, unread or
   * retry-scheduled work left in a group; more webhook calls at once than CONSUMER_CONCURRENCY
   * allows; a dead letter that is not one of `poison` (entry ids), or a poison entry not
   * dead-lettered exactly once by the webhook group; and the scenario's own `problems`.
   */
  async verify(
    rows: ScenarioRow[],
    options: {
      poison?: string[];
      recoverMs?: number;
      notes?: string;
      settleMs?: number;
      /** Failures the scenario found itself, e.g. `check(takeoverMs <= bound, '...')`. */
      problems?: Array<string | undefined>;
    } = {},
  ): Promise<ScenarioRow> {
    await this.traffic.stop();
    await this.settle(options.settleMs);
    const lost = this.lost();
    const backlog = await this.backlog();
    const deliveredKeys = [...this.webhook.delivered.keys()];
    // Each process runs at most CONSUMER_CONCURRENCY webhook calls; a killed, frozen or stopped
    // one may leave that many behind at the webhook, hence one allowance per process life.
    const concurrency = Number(this.env.CONSUMER_CONCURRENCY);
    const lives = this.services.filter(Boolean).reduce((sum, service) => sum + service.lives, 0);
    const row: ScenarioRow = {
      scenario: this.name,
      accepted: this.traffic.accepted.size,
      delivered: deliveredKeys.filter((key) => this.traffic.accepted.has(key)).length,
      lost: lost.length,
      duplicates: this.duplicates(),
      unconfirmed: deliveredKeys.filter((key) => !this.traffic.accepted.has(key)).length,
      peakCalls: `${this.webhook.peakInFlight}/${concurrency * lives}`,
      recoverMs: options.recoverMs ?? (await this.recovery),
      notes: options.notes ?? '',
    };
    rows.push(row);

    const problems = (options.problems ?? []).filter((p): p is string => p !== undefined);
    if (lost.length > 0) {
      problems.push(
        `${lost.length} accepted alert(s) not delivered:\n${await this.explain(lost.slice(0, 5))}`,
      );
    }
    if (!FaultLab.isEmpty(backlog)) problems.push(`work left in Redis: ${JSON.stringify(backlog)}`);

    if (this.webhook.peakInFlight > concurrency * lives) {
      problems.push(
        `${this.webhook.peakInFlight} webhook calls were in flight at once, more than ` +
          `CONSUMER_CONCURRENCY ${concurrency} × ${lives} processes`,
      );
    }

    const letters = await this.deadLetters();
    const poison = new Set(options.poison ?? []);
    const unexpected = letters.filter((letter) => !poison.has(letter.originalId));
    const webhookLetters = letters.filter((letter) => letter.group === WEBHOOK_GROUP);
    const perPoison = [...poison].map(
      (id) => webhookLetters.filter((letter) => letter.originalId === id).length,
    );
    if (unexpected.length > 0 || perPoison.some((count) => count !== 1)) {
      problems.push(
        `the dead-letter stream should hold exactly the ${poison.size} poison entries, once each ` +
          `for ${WEBHOOK_GROUP}; unexpected: ${JSON.stringify(unexpected.slice(0, 5))}, ` +
          `count per poison entry: ${JSON.stringify(perPoison)}`,
      );
    }

    if (problems.length > 0) {
      row.notes = `FAILED: ${problems.map((p) => p.split(':')[0]).join('; ')}${row.notes ? ` | ${row.notes}` : ''}`;
      throw new Error(
        `${this.name}:\n- ${problems.join('\n- ')}\nHTTP: ${this.traffic.describeHttp()}\n${this.serviceLogs()}`,
      );
    }
    return row;
  }

  /** Where each of these keys got stuck: in the stream? pending? dead-lettered? requested? */
  async explain(keys: string[]): Promise<string> {
    const lines: string[] = [];
    const entries = (await this.admin.xrange(STREAM, '-', '+').catch(() => [])) as Array<
      [string, string[]]
    >;
    const letters = await this.deadLetters().catch(() => []);
    for (const key of keys) {
      const found = entries.filter(([id, flat]) => id === key || toRecord(flat).eventId === key);
      const pending: string[] = [];
      for (const [id] of found) {
        for (const group of await this.groups()) {
          if (group.stream !== STREAM) continue;
          const rows = (await this.admin.xpending(STREAM, group.name, id, id, 1)) as unknown[][];
          if (rows.length > 0) pending.push(`${group.name}:${JSON.stringify(rows[0])}`);
        }
      }
      const requests = this.webhook
        .requestsOf(key)
        .map((r) => `${r.attempt}:${r.status ?? 'held'}`);
      const dead = letters.filter((l) => found.some(([id]) => id === l.originalId));
      lines.push(
        `  ${key} (${this.traffic.accepted.get(key)?.via}): entries ${JSON.stringify(found.map(([id]) => id))}, ` +
          `pending ${pending.join(' ') || 'none'}, webhook requests [${requests.join(' ')}], ` +
          `dead letters ${JSON.stringify(dead)}`,
      );
    }
    return lines.join('\n');
  }

  /** The last lines each instance printed, for failure messages. */
  serviceLogs(lines = 25): string {
    return this.services
      .filter(Boolean)
      .map((service) => {
        const text = service.output().replace(ANSI_COLOURS, '').split('\n');
        return [text[0], ...text.slice(-lines)].join('\n');
      })
      .join('\n');
  }

  /** Stops everything this lab started; safe to call twice and after a failure. */
  async close(): Promise<void> {
    this.closed = true;
    await this.traffic.stop().catch(() => undefined);
    await Promise.all(this.services.filter(Boolean).map((service) => service.dispose()));
    this.producer.disconnect();
    this.admin.disconnect();
    await this.webhook.close().catch(() => undefined);
    await this.proxy.close().catch(() => undefined);
    await this.redis.close();
  }
}

export function toRecord(flat: unknown[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = flat[i + 1];
  return record;
}

/** The summary table, one row per scenario, as fixed-width text. */
export function formatTable(rows: ScenarioRow[]): string {
  const header = [
    'scenario',
    'accepted',
    'delivered',
    'lost',
    'duplicates',
    'unconfirmed',
    'peak calls',
    'recover ms',
    'notes',
  ];
  const cells = rows.map((row) => [
    row.scenario,
    String(row.accepted),
    String(row.delivered),
    String(row.lost),
    String(row.duplicates),
    String(row.unconfirmed),
    row.peakCalls,
    row.recoverMs === undefined ? '-' : String(row.recoverMs),
    row.notes,
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...cells.map((c) => c[i].length)));
  const line = (values: string[]): string =>
    values
      .map((value, i) =>
        i === 0 || i === values.length - 1 ? value.padEnd(widths[i]) : value.padStart(widths[i]),
      )
      .join(' | ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-+-'), ...cells.map(line)].join(
    '\n',
  );
}

/** `message` when `ok` is false: a scenario's own check, for `verify({ problems })`. */
export function check(ok: boolean, message: string): string | undefined {
  return ok ? undefined : message;
}
