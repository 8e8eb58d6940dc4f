import { RenderError } from './alert-format.js';
import type { OutgoingAlert } from './outgoing-alert.js';
import { pagerDutyFormat, type PagerDutyEvent } from './pagerduty.js';
import type { Receiver } from './receiver.js';

const ROUTING_KEY = 'R0UT1NGKEY0123456789abcdefABCDEF';
const RECEIVER: Receiver = {
  name: 'oncall',
  format: 'pagerduty',
  secrets: { routingKey: ROUTING_KEY },
};

function render(alert: OutgoingAlert, receiver = RECEIVER): PagerDutyEvent {
  const { body, headers } = pagerDutyFormat.render(alert, receiver);
  expect(headers).toEqual({ 'content-type': 'application/json' });
  return JSON.parse(body) as PagerDutyEvent;
}

const FIRING: OutgoingAlert = {
  eventId: 'am-firing',
  id: '1-0',
  message: 'Database down',
  severity: 'critical',
  source: 'db-1:9187',
  labels: { alertname: 'PostgresDown', severity: 'critical', instance: 'db-1:9187' },
  receivedAt: '2024-01-01T00:00:02.000Z',
  alertStatus: 'firing',
  startsAt: '2024-01-01T00:00:00.000Z',
  fingerprint: '1a30ba71cca2921f',
  generatorURL: 'http://prometheus:9090/graph?g0.expr=pg_up+%3D%3D+0',
  annotations: { summary: 'Database down', runbook_url: 'https://runbooks.example.com/pg' },
};

describe('pagerduty format', () => {
  it('triggers a firing alert with summary, source, severity, timestamp and links', () => {
    expect(render(FIRING)).toEqual({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: '1a30ba71cca2921f@2024-01-01T00:00:00.000Z',
      payload: {
        summary: 'Database down',
        source: 'db-1:9187',
        severity: 'critical',
        timestamp: '2024-01-01T00:00:00.000Z',
        class: 'PostgresDown',
        custom_details: {
          eventId: 'am-firing',
          labels: FIRING.labels,
          annotations: FIRING.annotations,
        },
      },
      client: 'redis-streams-alerts',
      links: [
        { href: FIRING.generatorURL, text: 'Alert source' },
        { href: 'https://runbooks.example.com/pg', text: 'Runbook' },
      ],
    });
  });

  it('resolves a resolved alert under the dedup_key its trigger had', () => {
    const trigger = render(FIRING);
    const resolve = render({
      ...FIRING,
      eventId: 'am-resolved',
      alertStatus: 'resolved',
      endsAt: '2024-01-01T00:10:00.000Z',
    });
    expect(resolve).toEqual({
      routing_key: ROUTING_KEY,
      event_action: 'resolve',
      dedup_key: trigger.dedup_key,
    });
  });

  it('gives an alert of POST /alerts its eventId as dedup_key, and triggers it', () => {
    const event = render({ eventId: 'e-42', id: '1-0', message: 'm', severity: 'info' });
    expect(event).toMatchObject({
      event_action: 'trigger',
      dedup_key: 'e-42',
      payload: { summary: 'm', source: 'unknown', severity: 'info' },
    });
    expect(event.links).toBeUndefined();
  });

  it.each([
    ['error', 'critical', 'error'],
    ['ERROR', 'critical', 'error'],
    ['warning', 'warning', 'warning'],
    ['page', 'critical', 'critical'],
    [undefined, 'info', 'info'],
  ] as const)(
    'maps the severity label %s (service severity %s) to %s',
    (label, severity, expected) => {
      const labels: Record<string, string> = label === undefined ? {} : { severity: label };
      expect(render({ ...FIRING, labels, severity }).payload?.severity).toBe(expected);
    },
  );

  it('cuts the summary to 1024 characters', () => {
    const summary = render({ ...FIRING, message: 'x'.repeat(2_000) }).payload!.summary;
    expect(summary).toHaveLength(1_024);
  });

  it('refuses a receiver without its routing key', () => {
    expect(() => pagerDutyFormat.render(FIRING, { name: 'oncall', format: 'pagerduty' })).toThrow(
      RenderError,
    );
    expect(pagerDutyFormat.requiredSecrets).toEqual(['routingKey']);
  });
});
