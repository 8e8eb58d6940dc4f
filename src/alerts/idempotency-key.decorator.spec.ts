import { BadRequestException } from '@nestjs/common';
import { parseIdempotencyKey } from './idempotency-key.decorator.js';

describe('parseIdempotencyKey', () => {
  it('is undefined without the header', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
  });

  it.each(['a', 'order-42:retry', 'x'.repeat(200), '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'])(
    'accepts %p',
    (key) => {
      expect(parseIdempotencyKey(key)).toBe(key);
    },
  );

  it.each(['', 'has space', 'x'.repeat(201), 'tab\there', 'ümlaut', ['a', 'b']])(
    'rejects %p',
    (key) => {
      expect(() => parseIdempotencyKey(key)).toThrow(BadRequestException);
    },
  );
});
