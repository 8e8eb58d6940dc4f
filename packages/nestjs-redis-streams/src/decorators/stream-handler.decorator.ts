import { SetMetadata } from '@nestjs/common';
import { STREAM_HANDLER_METADATA } from '../redis-streams.constants.js';
import type { StreamHandlerOptions } from '../interfaces/stream-handler.interface.js';

/** Metadata stored by `@StreamHandler`. */
export interface StreamHandlerMetadata {
  stream: string;
  options: StreamHandlerOptions;
}

/**
 * Marks a provider method as the handler of a stream. The method gets `(payload, message)`; the
 * entry is acknowledged when it resolves, retried when it throws, dead-lettered when it throws
 * `NonRetryableError` or runs out of attempts.
 */
export const StreamHandler = (stream: string, options: StreamHandlerOptions = {}) =>
  SetMetadata<string, StreamHandlerMetadata>(STREAM_HANDLER_METADATA, { stream, options });
