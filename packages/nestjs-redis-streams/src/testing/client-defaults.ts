import type { RedisOptions } from 'ioredis';

/**
 * Clients for tests. ioredis keeps a timer of `disconnectTimeout` (2 s) after `disconnect()`, which
 * holds the test process open that long after the last test ("Jest did not exit"): without it the
 * socket is closed at once, which is what a test that disconnects means anyway.
 */
export const CLIENT_DEFAULTS: RedisOptions = { maxRetriesPerRequest: 1, disconnectTimeout: 0 };
