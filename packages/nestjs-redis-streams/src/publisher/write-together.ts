import { Redis } from 'ioredis';
import type { RedisClient } from '../redis/redis-connections.js';

/**
 * Runs `send`, which issues commands on `redis`, so that they leave in one write to the socket:
 * ioredis writes each command as it is issued, in order, and answers each with its own promise;
 * the socket is corked meanwhile, so they go to Redis as one packet, as a pipeline would send them.
 *
 * Why not an ioredis pipeline (or auto-pipelining, which makes one per turn of the event loop): a
 * Pipeline gets an accessor property of its own in its constructor (`length`), and objects built
 * so outlive V8's young-generation collections. Measured on this project's hot paths (a read with
 * its XACK, a publish call), every Pipeline and all it refers to (commands, arguments, replies)
 * was copied by each scavenge until a full collection: 3-5 MB survived each one, which made them
 * take 5-7 ms instead of under 1 ms, and those pauses were the p99 latency.
 *
 * On a Cluster client the commands go through its routing, each to the node of its key.
 */
export function writeTogether<T>(redis: RedisClient, send: () => T): T {
  const socket = redis instanceof Redis && redis.status === 'ready' ? redis.stream : undefined;
  socket?.cork();
  try {
    return send();
  } finally {
    socket?.uncork();
  }
}

/** A command's outcome as a pipeline reports it: [error, null] or [null, reply]. Never rejects. */
export function settled(reply: Promise<unknown>): Promise<[Error | null, unknown]> {
  return reply.then(
    (value): [Error | null, unknown] => [null, value],
    (error: unknown): [Error | null, unknown] => [error as Error, null],
  );
}
