import { WEBHOOK_BUSY } from '../alerts.constants.js';
import { retryAfterMs } from './retry-after.js';

const NOW = Date.parse('2026-10-21T07:28:00.000Z');

describe('retryAfterMs', () => {
  it.each([
    ['0', 0],
    ['1', 1_000],
    ['120', 120_000],
    [' 2 ', 2_000],
    ['1.5', 1_500],
  ])('reads %j as seconds', (header, expected) => {
    expect(retryAfterMs(header, NOW)).toBe(expected);
  });

  it('reads an HTTP date as the time left until then', () => {
    expect(retryAfterMs('Wed, 21 Oct 2026 07:28:30 GMT', NOW)).toBe(30_000);
  });

  it('waits nothing for a date already past', () => {
    expect(retryAfterMs('Wed, 21 Oct 2026 07:27:00 GMT', NOW)).toBe(0);
  });

  it.each([null, undefined, '', '-1', 'soon', '1e3', '5 seconds', '0x10'])(
    'says nothing for %j (the caller decides the wait)',
    (header) => {
      expect(retryAfterMs(header, NOW)).toBeUndefined();
    },
  );

  it('caps a long wait, in seconds or as a date', () => {
    expect(retryAfterMs('86400', NOW)).toBe(WEBHOOK_BUSY.maxDelayMs);
    expect(retryAfterMs('Thu, 22 Oct 2026 07:28:00 GMT', NOW)).toBe(WEBHOOK_BUSY.maxDelayMs);
    expect(WEBHOOK_BUSY.maxDelayMs).toBe(300_000);
  });
});
