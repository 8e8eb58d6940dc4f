import {
  StreamEvents,
  type EntryEvent,
  type StreamInfo,
  type StreamInspector,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { HISTORY } from './admin.constants.js';
import { StreamHistory } from './stream-history.js';

// Jest's ESM mode has no global `jest`: it is on import.meta.
const { jest } = import.meta as unknown as { jest: typeof globalThis.jest };

function info(stream: string, lag: number | null, pending: number): StreamInfo {
  return {
    stream,
    length: 10,
    firstId: '1-0',
    lastId: '10-0',
    groups: [
      {
        name: 'g1',
        consumers: [],
        pending,
        lag,
        lastDeliveredId: '9-0',
        oldestPendingAgeMs: null,
      },
    ],
    deadLetter: { stream: `${stream}:dlq`, length: 2 },
  };
}

/** What an event says about the entry it concerns; these tests count events, not entries. */
function entry(stream: string, group: string): EntryEvent {
  return { stream, group, id: '1-0', eventId: 'e1', attempt: 1 };
}

describe('StreamHistory', () => {
  let now: number;
  let streams: () => Promise<StreamInfo[]>;
  let events: StreamEvents;
  let history: StreamHistory;

  beforeEach(() => {
    now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    streams = async () => [info('orders', 3, 1)];
    const inspector = {
      knownStreams: () => ['orders'],
      streams: () => streams(),
    } as unknown as StreamInspector;
    events = new StreamEvents();
    history = new StreamHistory(inspector, events);
    history.onApplicationBootstrap();
  });

  afterEach(() => {
    history.onModuleDestroy();
    jest.restoreAllMocks();
  });

  it('samples lag and pending from Redis and what this instance did since the last sample', async () => {
    events.emit('published', { stream: 'orders', count: 3, duplicates: 1 });
    events.emit('handled', { ...entry('orders', 'g1'), durationMs: 1, latencyMs: 2 });
    events.emit('failed', { ...entry('orders', 'g1'), retrying: true, reason: 'boom' });
    events.emit('deadLettered', { ...entry('orders', 'g2'), reason: 'boom' });
    events.emit('handled', { ...entry('elsewhere', 'x'), durationMs: 1, latencyMs: 1 });
    await history.sample();
    now += HISTORY.intervalMs;
    await history.sample();

    const { intervalMs, samples } = history.history();
    expect(intervalMs).toBe(HISTORY.intervalMs);
    expect(samples).toHaveLength(2);
    expect(samples[0]).toEqual({
      at: 1_000_000,
      streams: [
        {
          stream: 'orders',
          length: 10,
          deadLetters: 2,
          published: 2,
          groups: [
            { group: 'g1', lag: 3, pending: 1, handled: 1, failed: 1, deadLettered: 0 },
            // Seen only in the events (a group Redis did not list): counted, lag unknown.
            { group: 'g2', lag: null, pending: null, handled: 0, failed: 0, deadLettered: 1 },
          ],
        },
      ],
    });
    expect(samples[1].streams[0]).toMatchObject({
      published: 0,
      groups: [{ group: 'g1', handled: 0, failed: 0, deadLettered: 0 }],
    });
  });

  it('leaves a gap when Redis does not answer, and keeps counting', async () => {
    streams = () => Promise.reject(new Error('Connection is closed.'));
    events.emit('handled', { ...entry('orders', 'g1'), durationMs: 1, latencyMs: 2 });
    await history.sample();
    expect(history.history().samples[0].streams[0]).toEqual({
      stream: 'orders',
      length: null,
      deadLetters: null,
      published: 0,
      groups: [{ group: 'g1', lag: null, pending: null, handled: 1, failed: 0, deadLettered: 0 }],
    });
  });

  it('skips a sample too close to the last one, and counts it in the next', async () => {
    await history.sample();
    events.emit('handled', { ...entry('orders', 'g1'), durationMs: 1, latencyMs: 2 });
    now += HISTORY.minSpacingMs - 1;
    await history.sample();
    expect(history.history().samples).toHaveLength(1);
    now += 1;
    await history.sample();
    const samples = history.history().samples;
    expect(samples).toHaveLength(2);
    expect(samples[1].streams[0].groups[0].handled).toBe(1);
  });

  it('keeps only the last samples', async () => {
    for (let i = 0; i < HISTORY.samples + 5; i++) {
      await history.sample();
      now += HISTORY.intervalMs;
    }
    const samples = history.history().samples;
    expect(samples).toHaveLength(HISTORY.samples);
    expect(samples[0].at).toBe(1_000_000 + 5 * HISTORY.intervalMs);
  });

  it('stops listening when the module is destroyed', async () => {
    history.onModuleDestroy();
    events.emit('handled', { ...entry('orders', 'g1'), durationMs: 1, latencyMs: 2 });
    await history.sample();
    expect(history.history().samples[0].streams[0].groups[0].handled).toBe(0);
  });
});
