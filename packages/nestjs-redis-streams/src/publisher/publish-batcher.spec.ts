import { PublishBatcher } from './publish-batcher.js';

/** A `send` that records its calls and answers each item with `stream:item`, or as told. */
function recordingSend(answer?: (item: string) => string | Error) {
  const calls: Array<{ stream: string; maxLen?: number; items: string[] }> = [];
  const send = async (stream: string, maxLen: number | undefined, items: string[]) => {
    calls.push({ stream, maxLen, items });
    return items.map((item) => (answer ? answer(item) : `${stream}:${item}`));
  };
  return { calls, send };
}

describe('PublishBatcher', () => {
  it('sends the events of one turn together, per stream, and answers each caller with its own', async () => {
    const { calls, send } = recordingSend();
    const batcher = new PublishBatcher(send, 25);
    const results = await Promise.all([
      batcher.add('orders', undefined, 'a'),
      batcher.add('payments', undefined, 'b'),
      batcher.add('orders', undefined, 'c'),
    ]);
    expect(results).toEqual(['orders:a', 'payments:b', 'orders:c']);
    expect(calls).toEqual([
      { stream: 'orders', maxLen: undefined, items: ['a', 'c'] },
      { stream: 'payments', maxLen: undefined, items: ['b'] },
    ]);
  });

  it('sends events with another maxLen in a call of their own', async () => {
    const { calls, send } = recordingSend();
    const batcher = new PublishBatcher(send, 25);
    await Promise.all([
      batcher.add('orders', 10, 'a'),
      batcher.add('orders', undefined, 'b'),
      batcher.add('orders', 10, 'c'),
    ]);
    expect(calls).toEqual([
      { stream: 'orders', maxLen: 10, items: ['a', 'c'] },
      { stream: 'orders', maxLen: undefined, items: ['b'] },
    ]);
  });

  it('sends a full call at once, without waiting for the end of the turn', () => {
    const { calls, send } = recordingSend();
    const batcher = new PublishBatcher(send, 2);
    void batcher.add('orders', undefined, 'a');
    void batcher.add('orders', undefined, 'b');
    expect(calls).toEqual([{ stream: 'orders', maxLen: undefined, items: ['a', 'b'] }]);
    void batcher.add('orders', undefined, 'c');
    expect(calls).toHaveLength(1);
  });

  it('sends what came in a later turn in a later call', async () => {
    const { calls, send } = recordingSend();
    const batcher = new PublishBatcher(send, 25);
    await batcher.add('orders', undefined, 'a');
    await batcher.add('orders', undefined, 'b');
    expect(calls.map((call) => call.items)).toEqual([['a'], ['b']]);
  });

  it("fails only the callers whose events failed, each with its own event's error", async () => {
    const { send } = recordingSend((item) => (item === 'bad' ? new Error('refused bad') : item));
    const batcher = new PublishBatcher(send, 25);
    const outcomes = await Promise.allSettled([
      batcher.add('orders', undefined, 'good'),
      batcher.add('orders', undefined, 'bad'),
    ]);
    expect(outcomes).toEqual([
      { status: 'fulfilled', value: 'good' },
      { status: 'rejected', reason: new Error('refused bad') },
    ]);
  });

  it('fails every caller of a call that could confirm nothing', async () => {
    const unreachable = new Error('Redis unreachable');
    const batcher = new PublishBatcher<string, string>(() => Promise.reject(unreachable), 25);
    const outcomes = await Promise.allSettled([
      batcher.add('orders', undefined, 'a'),
      batcher.add('orders', undefined, 'b'),
    ]);
    expect(outcomes).toEqual([
      { status: 'rejected', reason: unreachable },
      { status: 'rejected', reason: unreachable },
    ]);
  });
});
