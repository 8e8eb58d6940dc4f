import { Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { STREAM_HANDLER_METADATA } from '../redis-streams.constants.js';
import type { StreamHandlerMetadata } from '../decorators/stream-handler.decorator.js';

/** Reads what `@StreamHandler` stored on a method. */
@Injectable()
export class StreamHandlerMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  isStreamHandler(method: unknown): boolean {
    return this.getStreamHandlerMetadata(method) !== undefined;
  }

  /** The stream and options of a `@StreamHandler` method; undefined for any other method. */
  getStreamHandlerMetadata(method: unknown): StreamHandlerMetadata | undefined {
    if (typeof method !== 'function') return undefined;
    return this.reflector.get<StreamHandlerMetadata | undefined>(STREAM_HANDLER_METADATA, method);
  }
}
