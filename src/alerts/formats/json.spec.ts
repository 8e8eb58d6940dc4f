import { jsonFormat, renderJson } from './json.js';
import type { OutgoingAlert } from './outgoing-alert.js';

describe('json format', () => {
  it('writes an alert from POST /alerts byte for byte as the webhook always got it', () => {
    const alert: OutgoingAlert = {
      eventId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
      id: '1700000000000-0',
      message: 'Server down',
      severity: 'critical',
      source: 'web-1',
      labels: { env: 'prod' },
      receivedAt: '2023-11-14T22:13:20.000Z',
    };
    expect(renderJson(alert)).toEqual({
      body:
        '{"eventId":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","id":"1700000000000-0",' +
        '"message":"Server down","severity":"critical","source":"web-1","labels":{"env":"prod"},' +
        '"time":"2023-11-14T22:13:20.000Z"}',
      headers: { 'content-type': 'application/json' },
    });
  });

  it('leaves out what the alert lacks, as before', () => {
    const { body } = renderJson({ eventId: 'e', id: '1-0', message: 'm', severity: 'info' });
    expect(body).toBe('{"eventId":"e","id":"1-0","message":"m","severity":"info"}');
  });

  it('adds the status, times, fingerprint, link and annotations of a relayed alert after the rest', () => {
    const { body } = jsonFormat.render(
      {
        eventId: 'am-1',
        id: '1-0',
        message: 'Disk full',
        severity: 'warning',
        receivedAt: '2024-01-01T00:00:01.000Z',
        alertStatus: 'resolved',
        startsAt: '2024-01-01T00:00:00.000Z',
        endsAt: '2024-01-01T00:05:00.000Z',
        fingerprint: 'c6eadffa33fcdf37',
        generatorURL: 'http://prometheus:9090/graph',
        annotations: { summary: 'Disk full' },
      },
      { name: 'any', format: 'json' },
    );
    expect(Object.keys(JSON.parse(body) as object)).toEqual([
      'eventId',
      'id',
      'message',
      'severity',
      'time',
      'alertStatus',
      'startsAt',
      'endsAt',
      'fingerprint',
      'generatorURL',
      'annotations',
    ]);
  });
});
