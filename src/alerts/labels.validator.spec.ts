import { findLabelsProblem } from './labels.validator.js';

describe('findLabelsProblem', () => {
  it('accepts 20 valid labels', () => {
    const labels = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'v']));
    expect(findLabelsProblem(labels)).toBeUndefined();
  });

  it.each(['__proto__', 'constructor', 'prototype'])('rejects the reserved key %s', (key) => {
    // JSON.parse makes "__proto__" an own key, as a request body would.
    const labels = JSON.parse(`{${JSON.stringify(key)}: "v"}`) as unknown;
    expect(findLabelsProblem(labels)).toContain('reserved name');
  });

  it('names the offending key', () => {
    expect(findLabelsProblem({ good: 'v', 'bad key': 'v' })).toBe(
      'key "bad key" must use only letters, digits and _ . - (and not be a reserved name)',
    );
  });
});
