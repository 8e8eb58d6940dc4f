import { createHash } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../redis/redis-connections.js';
import type { ScriptSignature } from './script-signature.js';

/*
 * The class every Lua script of the library is made with, and the rules every script follows.
 * The scripts themselves are files, lua/<name>.lua (see lua-loader.ts).
 *
 * Resends. ioredis Cluster resends commands in flight when a node dies, and a caller may send a
 * write again after a timeout, so every script must be safe to run twice: each says why at its top.
 *
 * Aborts. A script is not rolled back when it fails midway. Each fails, if at all, before its first
 * write: reads and the checks that can fail (NOGROUP) come first, and the first write is the one
 * that needs memory, which a full Redis (noeviction) refuses only while nothing has been written.
 */

/**
 * The module's Lua scripts. Each does one multi-step change atomically, and touches only keys
 * passed in KEYS, all derived from one stream name (see stream-keys.ts), so they also run on
 * Redis Cluster when the stream is named with a hash tag.
 */
export class StreamScript {
  readonly sha: string;

  /**
   * `signature`: the KEYS and ARGV the script's header declares; a call that passes other counts
   * is refused with a RangeError before it reaches Redis.
   */
  constructor(
    readonly name: string,
    readonly source: string,
    readonly signature?: ScriptSignature,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** EVALSHA, loading the script when Redis does not know it (after a restart or SCRIPT FLUSH). */
  async run<T>(
    redis: RedisClient,
    keys: string[],
    args: Array<string | number | Buffer>,
  ): Promise<T> {
    // The named methods, not callBuffer('EVALSHA', ...): ioredis 6 drops the command name of
    // `call`/`callBuffer` when auto-pipelining is on, which a caller's own client may have.
    const client = redis as unknown as BufferScripting;
    this.signature?.check(this.name, keys.length, args.length);
    try {
      return (await client.evalshaBuffer(this.sha, keys.length, ...keys, ...args)) as T;
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return (await client.evalBuffer(this.source, keys.length, ...keys, ...args)) as T;
    }
  }

  /**
   * Sends the script without waiting for it: as EVALSHA, or with `withSource` as EVAL (see
   * `queue`); the reply is as a pipeline gives it.
   */
  send(
    redis: RedisClient,
    keys: string[],
    args: Array<string | number | Buffer>,
    withSource = false,
  ): Promise<unknown> {
    this.signature?.check(this.name, keys.length, args.length);
    return withSource
      ? redis.eval(this.source, keys.length, ...keys, ...args)
      : redis.evalsha(this.sha, keys.length, ...keys, ...args);
  }

  /**
   * Queues the script on a pipeline: as EVALSHA, or with `withSource` as EVAL, which also puts
   * it back in the script cache (see `isNoScript` for the reply that asks for it). EVAL rather than
   * SCRIPT LOAD: on Cluster, LOAD reaches one node, EVAL the node that owns the keys.
   */
  queue(
    pipeline: ChainableCommander,
    keys: string[],
    args: Array<string | number | Buffer>,
    withSource = false,
  ): void {
    this.signature?.check(this.name, keys.length, args.length);
    if (withSource) pipeline.eval(this.source, keys.length, ...keys, ...args);
    else pipeline.evalsha(this.sha, keys.length, ...keys, ...args);
  }
}

/** ioredis has Buffer-reply variants of every command; its types leave out these two. */
interface BufferScripting {
  evalshaBuffer(...args: Array<string | number | Buffer>): Promise<unknown>;
  evalBuffer(...args: Array<string | number | Buffer>): Promise<unknown>;
}

export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}
