import { readAlertmanagerPayload, type AlertmanagerNotification } from './alertmanager-payload.js';

/** As Alertmanager 0.25 sends it (version 4). */
const ALERTMANAGER = {
  receiver: 'relay',
  status: 'firing',
  alerts: [
    {
      status: 'firing',
      labels: {
        alertname: 'ProbeFailure',
        instance: 'https://server.example.org',
        severity: 'critical',
      },
      annotations: { summary: 'BlackBox Probe Failure: https://server.example.org' },
      startsAt: '2023-02-06T13:08:45.828Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL:
        'http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0&g0.tab=1',
      fingerprint: '1a30ba71cca2921f',
    },
  ],
  groupLabels: { alertname: 'ProbeFailure' },
  commonLabels: { alertname: 'ProbeFailure' },
  commonAnnotations: {},
  externalURL: 'http://alertmanager.example.org:9093',
  version: '4',
  groupKey: '{}/{severity="critical"}:{alertname="ProbeFailure"}',
  truncatedAlerts: 0,
};

/** As Grafana's webhook contact point sends it: the same shape, version 1, and more fields. */
const GRAFANA = {
  receiver: 'My Super Webhook',
  status: 'resolved',
  orgId: 1,
  alerts: [
    {
      status: 'resolved',
      labels: { alertname: 'High memory usage', team: 'blue', zone: 'us-1' },
      annotations: { description: 'The system has high memory usage' },
      startsAt: '2021-10-12T09:51:03.157076+02:00',
      endsAt: '2021-10-12T09:56:03.157076+02:00',
      generatorURL: 'https://play.grafana.org/alerting/1afz29v7z/edit',
      fingerprint: 'c6eadffa33fcdf37',
      silenceURL: 'https://play.grafana.org/alerting/silence/new',
      dashboardURL: '',
      panelURL: '',
      imageURL: '',
      values: { B: 44.23943737541908, C: 1 },
      valueString: "[ metric='' labels={} value=14151.331895396988 ]",
    },
  ],
  groupLabels: {},
  commonLabels: { team: 'blue' },
  commonAnnotations: {},
  externalURL: 'https://play.grafana.org/',
  version: '1',
  groupKey: '{}:{}',
  truncatedAlerts: 0,
  title: '[RESOLVED] (blue)',
  state: 'ok',
  message: '**Resolved**',
};

function notification(body: unknown): AlertmanagerNotification {
  const read = readAlertmanagerPayload(body, 100);
  if (read.kind !== 'notification') throw new Error(`not read: ${JSON.stringify(read)}`);
  return read.notification;
}

function problems(body: unknown): string[] {
  const read = readAlertmanagerPayload(body, 100);
  if (read.kind !== 'invalid') throw new Error(`not invalid: ${JSON.stringify(read)}`);
  return read.problems;
}

const alertWith = (fields: Record<string, unknown>) => ({
  ...ALERTMANAGER,
  alerts: [{ ...ALERTMANAGER.alerts[0], ...fields }],
});

describe('readAlertmanagerPayload', () => {
  it("reads Alertmanager's notification: a zero endsAt is no end", () => {
    expect(notification(ALERTMANAGER)).toEqual({
      receiver: 'relay',
      status: 'firing',
      groupKey: ALERTMANAGER.groupKey,
      truncatedAlerts: 0,
      alerts: [
        {
          status: 'firing',
          labels: ALERTMANAGER.alerts[0].labels,
          annotations: ALERTMANAGER.alerts[0].annotations,
          startsAt: '2023-02-06T13:08:45.828Z',
          endsAt: undefined,
          fingerprint: '1a30ba71cca2921f',
          generatorURL: ALERTMANAGER.alerts[0].generatorURL,
        },
      ],
    });
  });

  it("reads Grafana's, ignoring its extra fields, with times in UTC to the millisecond", () => {
    const [alert] = notification(GRAFANA).alerts;
    expect(alert).toEqual({
      status: 'resolved',
      labels: GRAFANA.alerts[0].labels,
      annotations: GRAFANA.alerts[0].annotations,
      startsAt: '2021-10-12T07:51:03.157Z',
      endsAt: '2021-10-12T07:56:03.157Z',
      fingerprint: 'c6eadffa33fcdf37',
      generatorURL: GRAFANA.alerts[0].generatorURL,
    });
  });

  it('takes an alert without fingerprint or annotations, and notes truncated alerts', () => {
    const { alerts, truncatedAlerts } = notification({
      ...alertWith({ fingerprint: undefined, annotations: undefined }),
      truncatedAlerts: 3,
    });
    expect(alerts[0].fingerprint).toBeUndefined();
    expect(alerts[0].annotations).toEqual({});
    expect(truncatedAlerts).toBe(3);
  });

  it('lists every problem of every alert, each with where it is', () => {
    const body = {
      ...ALERTMANAGER,
      alerts: [
        { ...ALERTMANAGER.alerts[0], status: 'pending', startsAt: 'yesterday' },
        'not an alert',
        { ...ALERTMANAGER.alerts[0], labels: { env: 1 }, annotations: [] },
        { ...ALERTMANAGER.alerts[0], fingerprint: 'has space', endsAt: 'later' },
        { status: 'firing', startsAt: '2023-02-06T13:08:45Z' },
        { ...ALERTMANAGER.alerts[0], startsAt: '0001-01-01T00:00:00Z' },
      ],
    };
    expect(problems(body)).toEqual([
      'alerts[0].status must be one of firing, resolved',
      'alerts[0].startsAt must be an RFC 3339 time (when the alert began)',
      'alerts[1] must be an object',
      'alerts[2].labels value of "env" must be a string',
      'alerts[2].annotations must be an object of string keys to string values',
      'alerts[3].endsAt must be an RFC 3339 time when present',
      'alerts[3].fingerprint must be 1 to 128 printable ASCII characters without spaces',
      'alerts[4] needs a fingerprint or labels: nothing else tells one alert from another',
      'alerts[5].startsAt must be an RFC 3339 time (when the alert began)',
    ]);
  });

  it('holds labels to the stream limits: 64 keys, keys of letters, digits and _ . -', () => {
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, 'v']));
    expect(problems(alertWith({ labels: many }))).toEqual([
      'alerts[0].labels must have at most 64 keys, got 65',
    ]);
    expect(problems(alertWith({ labels: { 'a b': 'v' } }))[0]).toContain('key "a b"');
    expect(problems(alertWith({ labels: { ['__proto__']: 'v' } }))[0]).toContain('reserved');
    const enough = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`l${i}`, 'v']));
    expect(notification(alertWith({ labels: enough })).alerts[0].labels).toEqual(enough);
  });

  it('cuts long annotations instead of refusing them, and drops an over-long generatorURL', () => {
    const [alert] = notification(
      alertWith({
        annotations: { description: 'd'.repeat(10_000) },
        generatorURL: `http://x/${'p'.repeat(3_000)}`,
      }),
    ).alerts;
    expect(alert.annotations.description).toHaveLength(4_096);
    expect(alert.annotations.description.endsWith('…')).toBe(true);
    expect(alert.generatorURL).toBeUndefined();
  });

  it('refuses what is not a notification', () => {
    expect(problems([])).toEqual(['the body must be a JSON object (a webhook notification)']);
    expect(problems({ alerts: [] })).toEqual(['alerts must be a non-empty array']);
    expect(problems({ message: 'hi' })).toEqual(['alerts must be a non-empty array']);
  });

  it('counts the alerts before reading any, and refuses more than the most', () => {
    const body = { alerts: Array.from({ length: 101 }, () => 'unread') };
    expect(readAlertmanagerPayload(body, 100)).toEqual({ kind: 'too-many', count: 101 });
  });
});
