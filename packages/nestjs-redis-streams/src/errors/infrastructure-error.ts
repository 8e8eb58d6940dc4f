/**
 * Tells a failure of Redis (or of the way to it) from a failure of a handler or its message.
 * An infrastructure failure says nothing about the message: it keeps its entry pending, spends no
 * attempt and is never a reason to dead-letter it. The consumer also treats every error of its own
 * Redis calls that way, whatever the message; this check is for errors that reach it from a handler.
 */

/** Reply-error prefixes Redis sends when it cannot serve a command right now, not because of the command. */
const UNAVAILABLE_REPLIES = [
  'OOM',
  'LOADING',
  'BUSY',
  'READONLY',
  'NOSCRIPT',
  'CLUSTERDOWN',
  'MASTERDOWN',
  'TRYAGAIN',
  'MISCONF',
  'NOREPLICAS',
] as const;

/**
 * What ioredis says when a command never got its reply (connection gone, timed out, retries spent).
 * Not the socket errors under them (`connect ECONNREFUSED ...`): a handler's HTTP client says the
 * same when the receiver is down, which is the handler's failure, to be retried and dead-lettered.
 */
const CONNECTION_MESSAGES = [
  'Connection is closed',
  'Command timed out',
  "Stream isn't writeable",
  'Reached the max retries per request limit',
  'Too many Cluster redirections',
  'Failed to refresh slots cache',
  'None of startup nodes is available',
  'All sentinels are unreachable',
] as const;

/** Whether `error` is Redis being unavailable, full or slow rather than a fault of the message. */
export function isInfrastructureError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof InfrastructureError) return true;
  const { message } = error;
  if (UNAVAILABLE_REPLIES.some((prefix) => message.startsWith(prefix))) return true;
  return CONNECTION_MESSAGES.some((text) => message.includes(text));
}

/**
 * Marks a failure of one of the library's own Redis calls while it handles a message (claiming an
 * eventId, reading an entry again): it is never the message's fault.
 */
export class InfrastructureError extends Error {
  constructor(
    readonly step: string,
    options: { cause: unknown },
  ) {
    super(
      `${step} failed: ${options.cause instanceof Error ? options.cause.message : String(options.cause)}`,
      options,
    );
    this.name = 'InfrastructureError';
  }
}
