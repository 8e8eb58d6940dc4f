import type { Redis } from 'ioredis';
import { TestRedis } from '@redis-streams-alerts/nestjs-redis-streams/testing';
import { ServiceProcess } from '../support/service-process.js';
import { waitFor } from '../support/wait-for.js';
import { WebhookReceiver, type ReceivedDelivery } from '../support/webhook-receiver.js';
import { writeReceiversFile, type ReceiversFile } from '../support/receivers-file.js';
import { MonitoringStack } from './monitoring-stack.js';

const API_KEY = 'stack-test-api-key-0123456789';
const PD_KEY = 'stack-routing-key-0123456789';
/** Alerts posted in one burst, half critical (to `pager`), half warning (to `chat`). */
const BURST = 6;
/** Bounds of the waits: Prometheus scrapes and evaluates every second, Alertmanager groups for 1 s. */
const ARRIVAL_MS = 30_000;

/**
 * The service between a real Prometheus + Alertmanager (Debian's packages) and two receivers:
 * Prometheus scrapes an exporter the test controls, its rules fire when the test flips a value,
 * Alertmanager posts to the service's /alerts/alertmanager, and the service routes by severity:
 * `critical` to `pager` (PagerDuty's format), the rest to `chat` (Slack's). Killing the service
 * while Alertmanager sends loses nothing: Alertmanager retries, and what was accepted is in Redis.
 */
describe('Prometheus and Alertmanager in front of the service', () => {
  let redis: TestRedis;
  let client: Redis;
  let pager: WebhookReceiver;
  let chat: WebhookReceiver;
  let service: ServiceProcess | undefined;
  let stack: MonitoringStack | undefined;
  let receivers: ReceiversFile | undefined;

  beforeAll(async () => {
    redis = await TestRedis.start();
    client = redis.client();
    [pager, chat] = await Promise.all([WebhookReceiver.start(), WebhookReceiver.start()]);
    receivers = writeReceiversFile(
      `receivers:
  - name: pager
    url: ${pager.url}
    format: pagerduty
    routingKey: \${PD_KEY}
    matchers: ['severity="critical"']
  - name: chat
    url: ${chat.url}
    format: slack
    matchers: ['severity!="critical"']
`,
    );
    service = await ServiceProcess.start('stack-1', {
      REDIS_URL: redis.url,
      API_KEY,
      PD_KEY,
      ALERTS_RECEIVERS_FILE: receivers.path,
      CONSUMER_BLOCK_MS: '200',
      RETRY_BACKOFF_BASE_MS: '100',
      RETRY_BACKOFF_MAX_MS: '1000',
      SHUTDOWN_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'warn',
    });
    stack = await MonitoringStack.start({
      webhookUrl: `${service.url}/alerts/alertmanager`,
      apiKey: API_KEY,
      rules: [
        {
          alert: 'DiskFull',
          expr: 'stack_disk_full == 1',
          labels: { severity: 'critical', team: 'db' },
          annotations: { summary: 'Disk full on db-1' },
        },
        {
          alert: 'QueueSlow',
          expr: 'stack_queue_slow == 1',
          labels: { severity: 'warning' },
          annotations: { summary: 'Queue slow' },
        },
        {
          alert: 'Burst',
          expr: 'stack_burst == 1',
          labels: { severity: '{{ $labels.level }}' },
          annotations: { summary: 'Burst {{ $labels.n }}' },
        },
      ],
    });
    stack.exporter.set('stack_disk_full', {}, 0);
    stack.exporter.set('stack_queue_slow', {}, 0);
    for (let n = 1; n <= BURST; n += 1) {
      stack.exporter.set('stack_burst', { n: String(n), level: level(n) }, 0);
    }
  }, 60_000);

  afterAll(async () => {
    await stack?.close();
    await service?.dispose();
    await Promise.all([pager?.close(), chat?.close()]);
    client?.disconnect();
    await redis?.close();
    receivers?.remove();
  }, 30_000);

  function level(n: number): 'critical' | 'warning' {
    return n % 2 === 0 ? 'critical' : 'warning';
  }

  /** Fails with the output of every process, which is what one needs to see what went wrong. */
  async function arrival<T>(probe: () => T | undefined, what: string): Promise<NonNullable<T>> {
    try {
      return await waitFor(probe, what, ARRIVAL_MS, 100);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${service?.output()}\n${stack?.log()}`, {
        cause: error,
      });
    }
  }

  const text = (delivery: ReceivedDelivery): string => JSON.stringify(delivery.body);

  /** PagerDuty triggers whose summary is `summary`. */
  function triggers(summary: string): ReceivedDelivery[] {
    return pager.deliveries.filter(
      (d) =>
        d.body.event_action === 'trigger' &&
        (d.body.payload as { summary?: string } | undefined)?.summary === summary,
    );
  }

  function resolves(dedupKey: unknown): ReceivedDelivery[] {
    return pager.deliveries.filter(
      (d) => d.body.event_action === 'resolve' && d.body.dedup_key === dedupKey,
    );
  }

  /** Slack messages about `summary`, firing or resolved (the resolved ones carry ✅). */
  function slackMessages(summary: string, resolved: boolean): ReceivedDelivery[] {
    return chat.deliveries.filter(
      (d) => text(d).includes(summary) && text(d).includes(':white_check_mark:') === resolved,
    );
  }

  it('pages a critical alert in PagerDuty format, then resolves it with the same dedup_key', async () => {
    stack!.exporter.set('stack_disk_full', {}, 1);
    const [trigger] = await arrival(() => {
      const found = triggers('Disk full on db-1');
      return found.length > 0 ? found : undefined;
    }, 'the DiskFull trigger at the pager');
    expect(trigger.body).toMatchObject({
      routing_key: PD_KEY,
      event_action: 'trigger',
      payload: { severity: 'critical', custom_details: { labels: { alertname: 'DiskFull' } } },
    });
    expect(chat.deliveries.filter((d) => text(d).includes('Disk full'))).toEqual([]);

    stack!.exporter.set('stack_disk_full', {}, 0);
    const [resolve] = await arrival(() => {
      const found = resolves(trigger.body.dedup_key);
      return found.length > 0 ? found : undefined;
    }, 'the DiskFull resolve at the pager');
    expect(resolve.body).toEqual({
      routing_key: PD_KEY,
      event_action: 'resolve',
      dedup_key: trigger.body.dedup_key,
    });
  }, 90_000);

  it('sends a warning to the chat in Slack format, and its resolve', async () => {
    stack!.exporter.set('stack_queue_slow', {}, 1);
    const [message] = await arrival(() => {
      const found = slackMessages('Queue slow', false);
      return found.length > 0 ? found : undefined;
    }, 'the QueueSlow message in the chat');
    expect(message.body).toMatchObject({ text: expect.any(String), blocks: expect.any(Array) });
    expect(triggers('Queue slow')).toEqual([]);

    stack!.exporter.set('stack_queue_slow', {}, 0);
    await arrival(() => {
      const found = slackMessages('Queue slow', true);
      return found.length > 0 ? found : undefined;
    }, 'the QueueSlow resolve in the chat');
  }, 90_000);

  it('loses nothing when the service is killed while Alertmanager sends', async () => {
    const live = service!;
    const failedBefore = await notificationsFailed();
    const streamBefore = await client.xlen('alerts');
    const fire = (n: number): void =>
      stack!.exporter.set('stack_burst', { n: String(n), level: level(n) }, 1);
    // The first half fires one by one, each accepted before the next; Alertmanager resends the
    // whole group (alertname Burst) each time, so the service also sees alerts it already has.
    const half = BURST / 2;
    for (let n = 1; n <= half; n += 1) {
      fire(n);
      await arrival(
        async () => (await client.xlen('alerts')) >= streamBefore + n,
        `Burst ${n} to be accepted`,
      );
    }
    // Killed as Alertmanager sends: the second half fires now, and its notifications fail until
    // the service is back; only Alertmanager's retries can bring them.
    await live.kill9();
    for (let n = half + 1; n <= BURST; n += 1) fire(n);
    const inRedisAtKill = (await client.xlen('alerts')) - streamBefore;
    await arrival(
      async () => (await notificationsFailed()) > failedBefore,
      'Alertmanager to fail a notification while the service is down',
    );
    const restarting = Date.now();
    await live.restart();
    const readyMs = Date.now() - restarting;

    await arrival(() => {
      for (let n = 1; n <= BURST; n += 1) {
        const summary = `Burst ${n}`;
        const arrived =
          level(n) === 'critical'
            ? triggers(summary).length > 0
            : slackMessages(summary, false).length > 0;
        if (!arrived) return undefined;
      }
      return true;
    }, `all ${BURST} alerts of the burst at their receivers`);
    // Alertmanager sent the group again and again: each alert was appended once all the same.
    expect((await client.xlen('alerts')) - streamBefore).toBe(BURST);
    console.log(
      `[stack] ${JSON.stringify({
        burst: BURST,
        inRedisAtKill,
        alertmanagerFailures: (await notificationsFailed()) - failedBefore,
        restartReadyMs: readyMs,
        allArrivedAfterRestartMs: Date.now() - restarting,
      })}`,
    );
    for (let n = 1; n <= BURST; n += 1) {
      const summary = `Burst ${n}`;
      const elsewhere = level(n) === 'critical' ? slackMessages(summary, false) : triggers(summary);
      expect(elsewhere).toEqual([]);
    }

    // The resolves too, after the restart.
    const keys = new Map<number, unknown>();
    for (let n = 2; n <= BURST; n += 2) keys.set(n, triggers(`Burst ${n}`)[0].body.dedup_key);
    for (let n = 1; n <= BURST; n += 1) {
      stack!.exporter.set('stack_burst', { n: String(n), level: level(n) }, 0);
    }
    await arrival(() => {
      for (let n = 1; n <= BURST; n += 1) {
        const arrived =
          level(n) === 'critical'
            ? resolves(keys.get(n)).length > 0
            : slackMessages(`Burst ${n}`, true).length > 0;
        if (!arrived) return undefined;
      }
      return true;
    }, `the ${BURST} resolves at their receivers`);
  }, 120_000);

  /** Alertmanager's count of failed webhook notifications (its own /metrics). */
  async function notificationsFailed(): Promise<number> {
    const response = await fetch(`${stack!.alertmanager.url}/metrics`, {
      signal: AbortSignal.timeout(2_000),
    });
    const metrics = await response.text();
    const line = /^alertmanager_notifications_failed_total\{integration="webhook"\} (\S+)$/m.exec(
      metrics,
    );
    return line ? Number(line[1]) : 0;
  }
});
