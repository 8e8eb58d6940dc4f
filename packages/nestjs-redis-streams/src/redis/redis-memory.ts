import type { Redis } from 'ioredis';
import { DEFAULTS } from '../redis-streams.constants.js';

/** How full Redis is: with several masters (Cluster), the fullest of them. */
export interface RedisMemoryState {
  usedBytes: number;
  /** `maxmemory`; 0 when Redis has no limit. */
  maxBytes: number;
  /** `maxmemory-policy`: `noeviction` is the only one that never drops a stream. */
  policy: string;
  /** Which master, when there are several. */
  node?: string;
  warning?: string;
  checkedAt: string;
}

/**
 * Reads `INFO memory` of every master and reports the fullest. A Redis near `maxmemory` refuses
 * new alerts once full (noeviction), and any other policy may evict a whole stream: both are
 * alarms an operator must see before they happen.
 */
export async function readRedisMemory(
  nodes: Array<{ address: string; redis: Redis }>,
): Promise<RedisMemoryState> {
  const states = await Promise.all(
    nodes.map(async ({ address, redis }) => {
      const info = parseInfo(await redis.info('memory'));
      return {
        node: address,
        usedBytes: Number(info.used_memory ?? 0),
        maxBytes: Number(info.maxmemory ?? 0),
        policy: info.maxmemory_policy ?? 'unknown',
      };
    }),
  );
  if (states.length === 0) throw new Error('no master to ask');
  const fullest = states.reduce((a, b) => (share(b) > share(a) ? b : a));
  const evicting = states.find((state) => state.maxBytes > 0 && state.policy !== 'noeviction');
  const where = states.length > 1 ? ` on ${fullest.node}` : '';
  const warnings: string[] = [];
  if (fullest.maxBytes > 0 && share(fullest) >= DEFAULTS.memoryAlarmRatio) {
    warnings.push(
      `Redis uses ${mib(fullest.usedBytes)} of its maxmemory ${mib(fullest.maxBytes)}${where} ` +
        `(${Math.round(share(fullest) * 100)} %): when full it refuses new events`,
    );
  }
  if (evicting) {
    warnings.push(
      `maxmemory-policy ${evicting.policy}${states.length > 1 ? ` on ${evicting.node}` : ''} ` +
        'may evict whole streams when Redis is full: set noeviction',
    );
  }
  return {
    usedBytes: fullest.usedBytes,
    maxBytes: fullest.maxBytes,
    policy: fullest.policy,
    ...(states.length > 1 ? { node: fullest.node } : {}),
    ...(warnings.length > 0 ? { warning: warnings.join('; ') } : {}),
    checkedAt: new Date().toISOString(),
  };
}

function share(state: { usedBytes: number; maxBytes: number }): number {
  return state.maxBytes > 0 ? state.usedBytes / state.maxBytes : 0;
}

function mib(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MiB`;
}

function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}
