import {
  renderAlert,
  type FormatName,
  type OutgoingAlert,
  type Receiver,
} from '../src/alerts/formats/index.js';
import { FormatReceiver } from './support/format-receiver.js';

/** Alerts as the stream gives them to a delivery: from POST /alerts, and relayed from Alertmanager. */
const ALERTS: Record<string, OutgoingAlert> = {
  'an alert from POST /alerts': {
    eventId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    id: '1700000000000-0',
    message: 'Server down',
    severity: 'critical',
    source: 'web-1',
    labels: { env: 'prod' },
    receivedAt: '2023-11-14T22:13:20.000Z',
  },
  'a firing Alertmanager alert': {
    eventId: 'am-3f1c0d9e2b7a4c5d6e7f8091a2b3c4d5',
    id: '1700000000001-0',
    message: 'BlackBox Probe Failure: https://server.example.org',
    severity: 'critical',
    source: 'https://server.example.org',
    labels: {
      alertname: 'ProbeFailure',
      instance: 'https://server.example.org',
      severity: 'critical',
    },
    receivedAt: '2023-11-14T22:13:21.000Z',
    alertStatus: 'firing',
    startsAt: '2023-02-06T13:08:45.828Z',
    fingerprint: '1a30ba71cca2921f',
    generatorURL:
      'http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0&g0.tab=1',
    annotations: {
      summary: 'BlackBox Probe Failure: https://server.example.org',
      description: 'Instance https://server.example.org has been down for over 5m.',
    },
  },
  'its resolve': {
    eventId: 'am-9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b',
    id: '1700000000002-0',
    message: 'BlackBox Probe Failure: https://server.example.org',
    severity: 'critical',
    source: 'https://server.example.org',
    labels: {
      alertname: 'ProbeFailure',
      instance: 'https://server.example.org',
      severity: 'critical',
    },
    receivedAt: '2023-11-14T22:20:00.000Z',
    alertStatus: 'resolved',
    startsAt: '2023-02-06T13:08:45.828Z',
    endsAt: '2023-02-06T13:20:00.000Z',
    fingerprint: '1a30ba71cca2921f',
  },
  'a Grafana alert with long text and markup': {
    eventId: 'am-00112233445566778899aabbccddeeff',
    id: '1700000000003-0',
    message: `<!channel> ${'memory '.repeat(400)}`,
    severity: 'warning',
    source: 'My Super Webhook',
    labels: { alertname: 'High memory usage', team: 'blue', severity: 'error' },
    alertStatus: 'firing',
    startsAt: '2021-10-12T07:51:03.157Z',
    fingerprint: 'c6eadffa33fcdf37',
    generatorURL: 'https://play.grafana.org/alerting/1afz29v7z/edit',
    annotations: {
      description: '&<>'.repeat(2_000),
      runbook_url: 'https://myrunbook.com/runbook/1234',
    },
  },
};

const RECEIVERS: Record<FormatName, Receiver> = {
  json: { name: 'hook', format: 'json' },
  slack: { name: 'chat', format: 'slack' },
  pagerduty: {
    name: 'oncall',
    format: 'pagerduty',
    secrets: { routingKey: 'R0UT1NGKEY0123456789abcdefABCDEF' },
  },
};

async function deliver(
  receiver: FormatReceiver,
  alert: OutgoingAlert,
  to: Receiver,
): Promise<number> {
  const { body, headers } = renderAlert(alert, to);
  const response = await fetch(receiver.url, {
    method: 'POST',
    headers,
    body,
    signal: AbortSignal.timeout(5_000),
  });
  await response.arrayBuffer();
  return response.status;
}

describe.each(Object.keys(RECEIVERS) as FormatName[])('the %s format', (format) => {
  let receiver: FormatReceiver;

  beforeAll(async () => {
    receiver = await FormatReceiver.start(format);
  });

  afterAll(async () => {
    await receiver.close();
  });

  it.each(Object.keys(ALERTS))(
    'is accepted by a receiver that checks its shape: %s',
    async (name) => {
      const status = await deliver(receiver, ALERTS[name], RECEIVERS[format]);
      expect(receiver.refused).toEqual([]);
      expect(status).toBeGreaterThanOrEqual(200);
      expect(status).toBeLessThan(300);
    },
  );
});

describe('the shape-checking receivers', () => {
  it('refuse what the real receivers refuse (so that the checks above mean something)', async () => {
    const slack = await FormatReceiver.start('slack');
    const pagerDuty = await FormatReceiver.start('pagerduty');
    try {
      const post = async (to: FormatReceiver, body: unknown) =>
        (
          await fetch(to.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(5_000),
          })
        ).status;
      expect(
        await post(slack, {
          text: 't',
          blocks: [{ type: 'header', text: { type: 'plain_text', text: 'x'.repeat(151) } }],
        }),
      ).toBe(400);
      expect(await post(slack, { blocks: [] })).toBe(400);
      expect(
        await post(pagerDuty, {
          routing_key: 'R0UT1NGKEY0123456789abcdefABCDEF',
          event_action: 'trigger',
          payload: { summary: 's', source: 'x', severity: 'fatal' },
        }),
      ).toBe(400);
      expect(
        await post(pagerDuty, {
          routing_key: 'R0UT1NGKEY0123456789abcdefABCDEF',
          event_action: 'resolve',
        }),
      ).toBe(400);
      expect(slack.refused).toHaveLength(2);
      expect(pagerDuty.refused).toHaveLength(2);
    } finally {
      await slack.close();
      await pagerDuty.close();
    }
  });
});

describe('PagerDuty trigger and resolve', () => {
  it('reach the receiver with one dedup_key, trigger first', async () => {
    const receiver = await FormatReceiver.start('pagerduty');
    try {
      await deliver(receiver, ALERTS['a firing Alertmanager alert'], RECEIVERS.pagerduty);
      await deliver(receiver, ALERTS['its resolve'], RECEIVERS.pagerduty);
      const [trigger, resolve] = receiver.deliveries.map((delivery) => delivery.body);
      expect(trigger).toMatchObject({ event_action: 'trigger' });
      expect(resolve).toMatchObject({ event_action: 'resolve', dedup_key: trigger.dedup_key });
    } finally {
      await receiver.close();
    }
  });
});
