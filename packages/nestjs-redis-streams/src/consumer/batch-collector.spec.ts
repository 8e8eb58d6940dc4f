import { BatchError } from '../errors/batch.error.js';
import { HandlerTimeoutError } from '../errors/handler-timeout.error.js';
import type { StreamMessage } from '../interfaces/stream-message.interface.js';
import { BatchCollector } from './batch-collector.js';

// Jest's ESM mode has no global `jest`: it is on import.meta.
const { jest } = import.meta as unknown as { jest: typeof globalThis.jest };

const message = (id: string): StreamMessage => ({
  id,
  stream: 'orders',
  group: 'g',
  consumer: 'c',
  eventId: id,
  attempt: 1,
  fields: {},
  signal: new AbortController().signal,
});

/** A batch handler that records its calls and returns what `reply` says. */
function recorder(reply: (payloads: unknown[]) => unknown = () => undefined) {
  const calls: Array<{ payloads: unknown[]; messages: StreamMessage[] }> = [];
  const handle = (payloads: unknown[], messages: StreamMessage[]): unknown => {
    calls.push({ payloads, messages });
    return reply(payloads);
  };
  return { calls, handle };
}

function collector(
  handle: (payloads: unknown[], messages: StreamMessage[]) => unknown,
  {
    maxSize = 3,
    maxWaitMs = 50,
    concurrency = 1,
    timeoutMs = undefined as number | undefined,
  } = {},
  stop = new AbortController().signal,
): BatchCollector {
  return new BatchCollector(
    {
      handle: handle as never,
      batch: { maxSize, maxWaitMs },
      concurrency,
      flow: { key: 'flow', timeoutMs },
    },
    stop,
  );
}

/** How each entry's call settled: 'ok', or its error. */
async function outcomes(calls: Array<Promise<void>>): Promise<unknown[]> {
  return Promise.all(
    calls.map((call) =>
      call.then(
        () => 'ok',
        (error: unknown) => error,
      ),
    ),
  );
}

const send = (batches: BatchCollector, ids: string[]): Array<Promise<void>> =>
  ids.map((id) => batches.handle({ id }, message(id)));

describe('BatchCollector', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('hands a batch over as soon as it has maxSize items, payloads and messages in order', async () => {
    const { calls, handle } = recorder();
    const results = send(collector(handle), ['1-0', '2-0', '3-0', '4-0']);
    expect(calls).toHaveLength(1);
    expect(calls[0].payloads).toEqual([{ id: '1-0' }, { id: '2-0' }, { id: '3-0' }]);
    expect(calls[0].messages.map((m) => m.id)).toEqual(['1-0', '2-0', '3-0']);
    expect(await outcomes(results.slice(0, 3))).toEqual(['ok', 'ok', 'ok']);
  });

  it('hands a batch over maxWaitMs after its first item, with what it has then', async () => {
    const { calls, handle } = recorder();
    const batches = collector(handle, { maxSize: 10, maxWaitMs: 50 });
    const first = send(batches, ['1-0']);
    await jest.advanceTimersByTimeAsync(30);
    const second = send(batches, ['2-0']);
    await jest.advanceTimersByTimeAsync(19);
    expect(calls).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls.map((c) => c.payloads.length)).toEqual([2]);
    expect(await outcomes([...first, ...second])).toEqual(['ok', 'ok']);
  });

  it('with maxWaitMs 0, hands over what joined in the same turn as one batch', async () => {
    const { calls, handle } = recorder();
    send(collector(handle, { maxSize: 10, maxWaitMs: 0 }), ['1-0', '2-0']);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls.map((c) => c.payloads.length)).toEqual([2]);
  });

  it('runs at most concurrency calls at once; a due batch waits, taking more items up to maxSize', async () => {
    let finish: () => void = () => undefined;
    const { calls, handle } = recorder(() => new Promise<void>((r) => (finish = r)));
    const batches = collector(handle, { maxSize: 3, maxWaitMs: 10 });
    send(batches, ['1-0', '2-0', '3-0']);
    send(batches, ['4-0']);
    await jest.advanceTimersByTimeAsync(20);
    // Due, but one call runs already.
    expect(calls).toHaveLength(1);
    send(batches, ['5-0', '6-0', '7-0']);
    finish();
    await jest.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => c.messages.map((m) => m.id))).toEqual([
      ['1-0', '2-0', '3-0'],
      ['4-0', '5-0', '6-0'],
    ]);
    // The rest is a batch of its own, due maxWaitMs after its own first item.
    finish();
    await jest.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(10);
    expect(calls.map((c) => c.payloads.length)).toEqual([3, 3, 1]);
  });

  it('settles each item with its own verdict: a result names failures by index or id', async () => {
    const bad = new Error('bad');
    const { handle } = recorder(() => ({
      failed: [
        { index: 0, error: bad },
        { id: '3-0', error: bad },
      ],
    }));
    const results = send(collector(handle), ['1-0', '2-0', '3-0']);
    expect(await outcomes(results)).toEqual([bad, 'ok', bad]);
  });

  it('reads a thrown BatchError as a result, and fails every item with any other error', async () => {
    const bad = new Error('bad');
    const partial = recorder(() => {
      throw new BatchError([{ index: 1, error: bad }]);
    });
    expect(await outcomes(send(collector(partial.handle), ['1-0', '2-0', '3-0']))).toEqual([
      'ok',
      bad,
      'ok',
    ]);
    const whole = recorder(() => Promise.reject(bad));
    expect(await outcomes(send(collector(whole.handle), ['1-0', '2-0', '3-0']))).toEqual([
      bad,
      bad,
      bad,
    ]);
  });

  it('gives a batch call up at timeoutMs, aborting its signal, and fails every item', async () => {
    let signal: AbortSignal | undefined;
    const { handle } = recorder(() => new Promise(() => undefined));
    const batches = collector(
      (payloads, messages) => {
        signal = messages[0].signal;
        return handle(payloads, messages);
      },
      { timeoutMs: 100 },
    );
    const results = outcomes(send(batches, ['1-0', '2-0', '3-0']));
    await jest.advanceTimersByTimeAsync(100);
    const [first, ...rest] = await results;
    expect(first).toBeInstanceOf(HandlerTimeoutError);
    expect(rest).toEqual([first, first]);
    expect(signal?.aborted).toBe(true);
  });

  it('on drain hands over what waits at once, and every later item without waiting', async () => {
    const { calls, handle } = recorder();
    const batches = collector(handle, { maxSize: 10, maxWaitMs: 60_000 });
    send(batches, ['1-0', '2-0']);
    batches.drain();
    send(batches, ['3-0']);
    expect(calls.map((c) => c.payloads.length)).toEqual([2]);
    await jest.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => c.payloads.length)).toEqual([2, 1]);
  });

  it('starts no batch call once the drain time is up', async () => {
    const stop = new AbortController();
    const { calls, handle } = recorder();
    const batches = collector(handle, { maxSize: 10, maxWaitMs: 50 }, stop.signal);
    send(batches, ['1-0']);
    stop.abort();
    await jest.advanceTimersByTimeAsync(100);
    batches.drain();
    expect(calls).toHaveLength(0);
  });
});
