/** Longest wait for Redis to answer the readiness PING, so /health/ready never hangs. */
export const REDIS_PING_TIMEOUT_MS = 1_000;
