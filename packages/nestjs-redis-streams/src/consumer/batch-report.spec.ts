import { BatchError } from '../errors/batch.error.js';
import { NonRetryableError } from '../errors/non-retryable.error.js';
import { failedItems } from './batch-report.js';

const ids = ['1-0', '2-0', '3-0'];
const asObject = (failed: ReadonlyMap<number, unknown>) => Object.fromEntries(failed);

describe('failedItems', () => {
  it('finds no failure when the handler returned nothing, or a value without "failed"', () => {
    expect(failedItems(ids, { returned: undefined }).size).toBe(0);
    expect(failedItems(ids, { returned: { inserted: 3 } }).size).toBe(0);
    expect(failedItems(ids, { returned: 3 }).size).toBe(0);
    expect(failedItems(ids, { returned: { failed: [] } }).size).toBe(0);
  });

  it('fails every item with the error a handler threw that is no BatchError', () => {
    const error = new NonRetryableError('bad batch');
    expect(asObject(failedItems(ids, { thrown: error }))).toEqual({ 0: error, 1: error, 2: error });
  });

  it('fails the items a returned result names, by index or by entry id, each with its own error', () => {
    const first = new Error('first');
    const third = new Error('third');
    const failed = failedItems(ids, {
      returned: {
        failed: [
          { index: 0, error: first },
          { id: '3-0', error: third },
        ],
      },
    });
    expect(asObject(failed)).toEqual({ 0: first, 2: third });
  });

  it('reads a thrown BatchError as a returned result', () => {
    const error = new Error('second');
    const failed = failedItems(ids, { thrown: new BatchError([{ index: 1, error }]) });
    expect(asObject(failed)).toEqual({ 1: error });
  });

  it('keeps the first error of an item named twice, and gives an item without one an error', () => {
    const first = new Error('first');
    const failed = failedItems(ids, {
      returned: {
        failed: [
          { index: 1, error: first },
          { id: '2-0', error: new Error('again') },
          { index: 2, error: undefined },
        ],
      },
    });
    expect(failed.get(1)).toBe(first);
    expect(String(failed.get(2))).toBe('Error: reported as failed, without an error');
  });

  it.each([
    [
      'an index out of range',
      { failed: [{ index: 3, error: 'x' }] },
      'index 3 is not an item of a batch of 3',
    ],
    ['an index that is no integer', { failed: [{ index: 0.5, error: 'x' }] }, 'index 0.5'],
    ['an unknown id', { failed: [{ id: '9-0', error: 'x' }] }, 'id 9-0 is not an item'],
    ['both index and id', { failed: [{ index: 0, id: '1-0', error: 'x' }] }, 'not both or neither'],
    ['neither index nor id', { failed: [{ error: 'x' }] }, 'not both or neither'],
    ['a failure that is no object', { failed: [0] }, 'must be { index, error } or { id, error }'],
    ['"failed" that is no list', { failed: { index: 0 } }, '"failed" must be a list'],
  ])('fails every item when the report has %s, saying what is wrong', (_, returned, problem) => {
    const failed = failedItems(ids, { returned });
    expect(failed.size).toBe(3);
    const error = failed.get(0) as Error;
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain(problem);
    expect(error.message).toContain('every item of the batch counts as failed');
    expect(failed.get(2)).toBe(error);
  });
});
