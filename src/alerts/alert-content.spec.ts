import { entryTime, toAlertContent, contentFromFields } from './alert-content.js';

describe('toAlertContent', () => {
  it('takes the fields of a published payload', () => {
    expect(
      toAlertContent(
        {
          message: 'm',
          severity: 'info',
          source: 's',
          labels: { a: 'b' },
          receivedAt: '2026-01-01T00:00:00.000Z',
        },
        '1700000000000-0',
      ),
    ).toEqual({
      id: '1700000000000-0',
      message: 'm',
      severity: 'info',
      source: 's',
      labels: { a: 'b' },
      receivedAt: '2026-01-01T00:00:00.000Z',
    });
  });

  it('takes the time from publishedAt when the payload has none (a replayed entry keeps it)', () => {
    const content = toAlertContent({ message: 'm' }, '1700000000000-3', '1600000000000');
    expect(content.receivedAt).toBe(new Date(1600000000000).toISOString());
  });

  it('defaults severity to critical and the time to the entry id time', () => {
    const content = toAlertContent({ message: 'm' }, '1700000000000-3');
    expect(content.severity).toBe('critical');
    expect(content.receivedAt).toBe(new Date(1700000000000).toISOString());
  });

  it('leaves out what does not fit (a dead-letter entry of a malformed alert)', () => {
    const content = toAlertContent(
      { message: 7, severity: 'fatal', labels: 'not json', 'dlq-error': 'x' },
      '1700000000000-0',
    );
    expect(content).toEqual({
      id: '1700000000000-0',
      message: undefined,
      severity: 'critical',
      source: undefined,
      labels: undefined,
      receivedAt: new Date(1700000000000).toISOString(),
    });
  });

  it('takes the fields of an alert relayed from Alertmanager, with its larger label set', () => {
    const labels = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`l${i}`, 'v']));
    const relayed = {
      message: 'm',
      labels,
      alertStatus: 'resolved',
      startsAt: '2024-01-01T00:00:00.000Z',
      endsAt: '2024-01-01T00:10:00.000Z',
      fingerprint: '0123456789abcdef',
      generatorURL: 'http://prometheus:9090/graph',
      annotations: { summary: 'm' },
    };
    expect(toAlertContent(relayed, '1-0')).toMatchObject(relayed);
    // Not relayed: the labels of POST /alerts, as always.
    expect(toAlertContent({ message: 'm', labels }, '1-0').labels).toBeUndefined();
  });

  it('parses labels written as JSON text by a flat-field producer', () => {
    expect(toAlertContent({ message: 'm', labels: '{"env":"prod"}' }, '1-0').labels).toEqual({
      env: 'prod',
    });
  });
});

describe('entryTime', () => {
  it('is undefined for something that is not an entry id', () => {
    expect(entryTime('order-42')).toBeUndefined();
  });
});

describe('contentFromFields', () => {
  it('reads the publisher JSON payload, flat fields, and survives a payload that is not JSON', () => {
    const published = contentFromFields(
      { eventId: 'e', payload: '{"message":"m","severity":"info"}', publishedAt: '1600000000000' },
      '1-0',
    );
    expect(published).toMatchObject({
      message: 'm',
      severity: 'info',
      id: '1-0',
      receivedAt: new Date(1600000000000).toISOString(),
    });
    const flat = contentFromFields({ message: 'flat', source: 'go' }, '2-0');
    expect(flat).toMatchObject({ message: 'flat', source: 'go', severity: 'critical' });
    const broken = contentFromFields({ payload: '{oops' }, '3-0');
    expect(broken).toMatchObject({ id: '3-0', message: undefined });
  });
});
