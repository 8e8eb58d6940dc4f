import type { Redis } from 'ioredis';
import { coalesceWrites } from '../src/redis/coalesced-writes.js';
import { streamsTestbed } from './support/streams-testbed.js';

type Socket = Redis['stream'] & {
  _write: (...args: unknown[]) => void;
  _writev: (...args: unknown[]) => void;
};

/** Counts the writes that reach the socket's handle: one per system call. */
function countWrites(socket: Socket): () => number {
  let writes = 0;
  for (const method of ['_write', '_writev'] as const) {
    const original = socket[method];
    socket[method] = (...args: unknown[]) => {
      writes++;
      original.apply(socket, args);
    };
  }
  return () => writes;
}

describe('coalesceWrites', () => {
  const bed = streamsTestbed();

  async function connection(coalesced: boolean): Promise<{ redis: Redis; writes: () => number }> {
    const redis = bed.connect();
    await redis.ping();
    if (coalesced) coalesceWrites(redis);
    return { redis, writes: countWrites(redis.stream as Socket) };
  }

  it('sends the commands of one turn of the event loop in one write, each with its own reply', async () => {
    const { redis, writes } = await connection(true);
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => redis.incrby('counter', i + 1)),
    );
    expect(writes()).toBe(1);
    // In order, as Redis ran them: each reply is the running total.
    expect(replies).toEqual(Array.from({ length: 20 }, (_, i) => ((i + 1) * (i + 2)) / 2));
  });

  it('writes each command on its own without it (what it replaces)', async () => {
    const { redis, writes } = await connection(false);
    await Promise.all(Array.from({ length: 20 }, () => redis.incr('counter')));
    expect(writes()).toBe(20);
  });

  it('sends the commands of later turns in writes of their own, and errors to their callers', async () => {
    const { redis, writes } = await connection(true);
    await redis.set('key', 'value');
    const [failed, ok] = await Promise.allSettled([redis.incr('key'), redis.get('key')]);
    expect(failed.status).toBe('rejected');
    expect(ok).toEqual({ status: 'fulfilled', value: 'value' });
    expect(writes()).toBe(2);
  });
});
