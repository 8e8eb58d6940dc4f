/*
 * The test kit: `@redis-streams-alerts/nestjs-redis-streams/testing`. A Redis for tests, an app
 * with RedisStreamsModule on it, and `TestStreams` to wait until its handlers are done, make
 * retries due and look at calls, dead letters and pending entries. See docs/testing.md.
 */
export { TestRedis } from './test-redis.js';
export type { TestRedisOptions, TestRedisTls } from './test-redis.js';
export { startTestRedis } from './redis-for-tests.js';
export type { RedisForTests } from './redis-for-tests.interface.js';
export { freePort } from './free-port.js';
export { startStreamsTestApp, TEST_CONSUMER_NAME } from './streams-test-app.js';
export type { StreamsTestAppOptions } from './streams-test-app.js';
export { TestStreams, StreamsNotIdleError, DEFAULT_IDLE_TIMEOUT_MS } from './test-streams.js';
export type {
  IdleOptions,
  RetriesWhileIdle,
  TestDeadLetter,
  TestPendingEntry,
} from './test-streams.js';
export type { ScheduledRetries, ScheduledRetry } from './scheduled-retries.js';
export type { HandlerCall, HandlerCallFilter, HandlerOutcome } from './handler-calls.js';
export type { Outstanding, GroupBacklog, RunningCalls } from './outstanding-work.js';
export type { StreamName } from './app-streams.js';
