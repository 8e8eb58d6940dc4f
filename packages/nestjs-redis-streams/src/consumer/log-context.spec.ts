import { logContext } from './log-context.js';

describe('logContext', () => {
  it('names the stream and group', () => {
    expect(logContext('alerts', 'webhook')).toBe('stream=alerts group=webhook');
  });

  it('adds the entry, eventId and attempt in that order', () => {
    expect(logContext('alerts', 'webhook', '1-0', 'e-1', 2)).toBe(
      'stream=alerts group=webhook entry=1-0 eventId=e-1 attempt=2',
    );
  });

  it('leaves out what is not known, and keeps what is', () => {
    expect(logContext('alerts', 'webhook', '1-0')).toBe('stream=alerts group=webhook entry=1-0');
    expect(logContext('alerts', 'webhook', undefined, 'e-1')).toBe(
      'stream=alerts group=webhook eventId=e-1',
    );
    expect(logContext('alerts', 'webhook', '1-0', undefined, 3)).toBe(
      'stream=alerts group=webhook entry=1-0 attempt=3',
    );
  });
});
