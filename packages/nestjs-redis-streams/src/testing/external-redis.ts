import { Redis, type RedisOptions } from 'ioredis';
import { redactUrl } from '../util/redact.js';
import type { RedisForTests } from './redis-for-tests.interface.js';
import { CLIENT_DEFAULTS } from './client-defaults.js';

const CONNECT_TIMEOUT_MS = 3_000;
const SCAN_COUNT = 1_000;
const DELETE_CHUNK = 500;

/**
 * The Redis at REDIS_URL: a server the tests share with whatever else uses it, so nothing is
 * flushed. `reset()` deletes the keys of the streams the tests tracked, and only those: each
 * stream, and every key under `<stream>:` (the library names every key of a stream that way: dead
 * letters, retries, de-duplication, partitions).
 */
export class ExternalRedis implements RedisForTests {
  readonly owned = false;
  private readonly streams = new Set<string>();

  private constructor(readonly url: string) {}

  /** Checks that the server answers, and says which URL did not. */
  static async connect(url: string): Promise<ExternalRedis> {
    const probe = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: CONNECT_TIMEOUT_MS,
      disconnectTimeout: 0,
      enableOfflineQueue: false,
    });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
    } catch (error) {
      throw new Error(`REDIS_URL ${redactUrl(url)} does not answer: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      probe.disconnect();
    }
    return new ExternalRedis(url);
  }

  client(options: RedisOptions = {}): Redis {
    return new Redis(this.url, { ...CLIENT_DEFAULTS, ...options });
  }

  track(streams: Iterable<string>): void {
    for (const stream of streams) this.streams.add(stream);
  }

  async reset(): Promise<void> {
    if (this.streams.size === 0) return;
    const client = this.client();
    try {
      for (const stream of this.streams) await deleteStreamKeys(client, stream);
      this.streams.clear();
    } finally {
      client.disconnect();
    }
  }

  async close(): Promise<void> {
    await this.reset();
  }
}

/** Deletes `stream` and every key under `<stream>:`. */
async function deleteStreamKeys(client: Redis, stream: string): Promise<void> {
  const keys = [stream];
  let cursor = '0';
  do {
    const [next, found] = await client.scan(
      cursor,
      'MATCH',
      `${escapeGlob(stream)}:*`,
      'COUNT',
      SCAN_COUNT,
    );
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  for (let i = 0; i < keys.length; i += DELETE_CHUNK) {
    await client.unlink(...keys.slice(i, i + DELETE_CHUNK));
  }
}

/** A key as a SCAN pattern that matches only itself: `*`, `?`, `[`, `]` and `\` escaped. */
function escapeGlob(key: string): string {
  return key.replace(/[*?[\]\\]/g, '\\$&');
}
