import type { AlertmanagerNotification, NotifiedAlert } from './alertmanager-payload.js';
import { severityOf, toRelayedAlertEvent } from './relayed-alert-event.js';
import { labelsFingerprint, relayedEventId } from './relayed-event-id.js';

const ALERT: NotifiedAlert = {
  status: 'firing',
  labels: { alertname: 'DiskFull', instance: 'db-1:9100', job: 'node', severity: 'warning' },
  annotations: { summary: 'Disk almost full', description: 'Only 3% left' },
  startsAt: '2024-01-01T00:00:00.000Z',
  endsAt: '2024-01-01T00:04:00.000Z',
  fingerprint: '0123456789abcdef',
  generatorURL: 'http://prometheus:9090/graph',
};
const NOTIFICATION: AlertmanagerNotification = {
  receiver: 'relay',
  truncatedAlerts: 0,
  alerts: [ALERT],
};

describe('toRelayedAlertEvent', () => {
  it('maps severity, summary, instance, labels and the alert fields onto the event', () => {
    const event = toRelayedAlertEvent(ALERT, NOTIFICATION);
    expect(event).toEqual({
      eventId: relayedEventId('0123456789abcdef', ALERT.startsAt, 'firing'),
      payload: {
        message: 'Disk almost full',
        severity: 'warning',
        source: 'db-1:9100',
        labels: ALERT.labels,
        alertStatus: 'firing',
        startsAt: ALERT.startsAt,
        // A firing alert's endsAt is Prometheus's moving horizon, not an end.
        endsAt: undefined,
        fingerprint: '0123456789abcdef',
        generatorURL: ALERT.generatorURL,
        annotations: ALERT.annotations,
      },
      partitionKey: 'db-1:9100',
      status: 'firing',
      fingerprint: '0123456789abcdef',
      startsAt: ALERT.startsAt,
    });
  });

  it('keeps the end of a resolved alert, under an eventId of its own', () => {
    const event = toRelayedAlertEvent({ ...ALERT, status: 'resolved' }, NOTIFICATION);
    expect(event.payload).toMatchObject({ alertStatus: 'resolved', endsAt: ALERT.endsAt });
    expect(event.eventId).toBe(relayedEventId('0123456789abcdef', ALERT.startsAt, 'resolved'));
  });

  it('falls back: description, then alertname for the message; job, then receiver for the source', () => {
    const noSummary = toRelayedAlertEvent(
      { ...ALERT, annotations: { summary: ' ', description: 'Only 3% left' } },
      NOTIFICATION,
    );
    expect(noSummary.payload.message).toBe('Only 3% left');
    const bare = toRelayedAlertEvent(
      { ...ALERT, labels: { alertname: 'DiskFull', job: 'node' }, annotations: {} },
      NOTIFICATION,
    );
    expect(bare.payload).toMatchObject({
      message: 'DiskFull',
      source: 'node',
      severity: 'critical',
    });
    expect(bare.payload.annotations).toBeUndefined();
    const anonymous = toRelayedAlertEvent(
      { ...ALERT, labels: { team: 'blue' }, annotations: {} },
      NOTIFICATION,
    );
    expect(anonymous.payload).toMatchObject({ message: 'Alert 0123456789abcdef', source: 'relay' });
  });

  it('derives the fingerprint from the labels when the alert has none', () => {
    const event = toRelayedAlertEvent({ ...ALERT, fingerprint: undefined }, NOTIFICATION);
    expect(event.fingerprint).toBe(labelsFingerprint(ALERT.labels));
    expect(event.payload.fingerprint).toBe(event.fingerprint);
  });

  it('cuts the message and the source to the limits of an alert', () => {
    const event = toRelayedAlertEvent(
      {
        ...ALERT,
        labels: { instance: 'i'.repeat(300) },
        annotations: { summary: 's'.repeat(3_000) },
      },
      NOTIFICATION,
    );
    expect(event.payload.message).toHaveLength(2_000);
    expect(event.payload.source).toHaveLength(200);
  });
});

describe('severityOf', () => {
  it.each([
    ['critical', 'critical'],
    ['Warning', 'warning'],
    [' info ', 'info'],
    ['error', 'critical'],
    ['none', 'info'],
    ['page', 'critical'],
    ['minor', 'warning'],
    ['p5', 'critical'],
    ['constructor', 'critical'],
    [undefined, 'critical'],
  ])('reads %p as %s', (label, severity) => {
    expect(severityOf(label)).toBe(severity);
  });
});
