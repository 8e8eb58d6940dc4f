import type { ArgumentsHost } from '@nestjs/common';
import type { StreamMessage } from '../interfaces/stream-message.interface.js';

/**
 * What `context.getType()` returns in a guard, interceptor or filter around a stream handler. Its
 * arguments are the handler's: `switchToRpc().getData()` is the payload, `getContext()` the
 * `StreamMessage`.
 */
export const STREAM_CONTEXT_TYPE = 'redis-streams';
export type StreamContextType = typeof STREAM_CONTEXT_TYPE;

/**
 * The message of the stream handler call that a guard, interceptor or filter runs around; undefined
 * in any other context (HTTP, RPC), so one enhancer can serve both.
 */
export function streamMessageOf(host: ArgumentsHost): StreamMessage | undefined {
  if (host.getType<string>() !== STREAM_CONTEXT_TYPE) return undefined;
  return host.switchToRpc().getContext<StreamMessage>();
}
