import type { ConfigType } from '@nestjs/config';
import { configNamespace } from './config-namespace.js';
import { parseHostPortList, type HostPort } from './host-port-list.js';

/** A node list that `validate` has already checked; empty when unset. */
function nodes(list: string | undefined): HostPort[] {
  const parsed = list === undefined ? [] : parseHostPortList(list);
  return Array.isArray(parsed) ? parsed : [];
}

/** Connection to Redis and the defaults of every stream consumer. */
export const redisConfig = configNamespace('redis', (env) => ({
  /** standalone: `url`; cluster: `clusterNodes`; sentinel: `sentinels` and `sentinelName`. */
  mode: env.REDIS_MODE,
  /** May contain a password: never log it (the library logs `RedisConnections.description`). */
  url: env.REDIS_URL,
  tlsCaFile: env.REDIS_TLS_CA_FILE,
  clusterNodes: nodes(env.REDIS_CLUSTER_NODES),
  sentinels: nodes(env.REDIS_SENTINELS),
  sentinelName: env.REDIS_SENTINEL_NAME,
  sentinelPassword: env.REDIS_SENTINEL_PASSWORD,
  consumerName: env.CONSUMER_NAME,
  claimMinIdleMs: env.CLAIM_MIN_IDLE_MS,
  publishTimeoutMs: env.PUBLISH_TIMEOUT_MS,
  retry: {
    maxAttempts: env.RETRY_MAX_ATTEMPTS,
    backoffBaseMs: env.RETRY_BACKOFF_BASE_MS,
    backoffMaxMs: env.RETRY_BACKOFF_MAX_MS,
  },
  batchSize: env.CONSUMER_BATCH_SIZE,
  concurrency: env.CONSUMER_CONCURRENCY,
  blockMs: env.CONSUMER_BLOCK_MS,
  /** How often the retention rules of the streams run. */
  retentionIntervalMs: env.RETENTION_INTERVAL_MS,
  waitForReplicas: { replicas: env.REDIS_WAIT_REPLICAS, timeoutMs: env.REDIS_WAIT_TIMEOUT_MS },
}));

export type RedisConfig = ConfigType<typeof redisConfig>;
