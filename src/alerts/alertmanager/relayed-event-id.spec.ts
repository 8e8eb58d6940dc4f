import { EVENT_ID_PATTERN } from '../alerts.constants.js';
import { labelsFingerprint, relayedEventId } from './relayed-event-id.js';

describe('relayedEventId', () => {
  const startsAt = '2023-02-06T13:08:45.828Z';

  it('is the same for the same alert, state and start, and a valid eventId', () => {
    const id = relayedEventId('1a30ba71cca2921f', startsAt, 'firing');
    expect(relayedEventId('1a30ba71cca2921f', startsAt, 'firing')).toBe(id);
    expect(id).toMatch(/^am-[0-9a-f]{32}$/);
    expect(EVENT_ID_PATTERN.test(id)).toBe(true);
  });

  it('differs between firing and resolve, between starts, and between alerts', () => {
    const ids = [
      relayedEventId('1a30ba71cca2921f', startsAt, 'firing'),
      relayedEventId('1a30ba71cca2921f', startsAt, 'resolved'),
      relayedEventId('1a30ba71cca2921f', '2023-02-06T14:00:00.000Z', 'firing'),
      relayedEventId('c6eadffa33fcdf37', startsAt, 'firing'),
    ];
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('labelsFingerprint', () => {
  it('depends on the labels, not on their order', () => {
    const fingerprint = labelsFingerprint({ alertname: 'A', job: 'node' });
    expect(labelsFingerprint({ job: 'node', alertname: 'A' })).toBe(fingerprint);
    expect(fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it('tells apart label sets that would run together', () => {
    expect(labelsFingerprint({ a: 'b\nc' })).not.toBe(labelsFingerprint({ a: 'b', c: '' }));
    expect(labelsFingerprint({ ab: 'c' })).not.toBe(labelsFingerprint({ a: 'bc' }));
    expect(labelsFingerprint({})).not.toBe(labelsFingerprint({ a: '' }));
  });
});
