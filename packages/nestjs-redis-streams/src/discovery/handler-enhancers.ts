import { ForbiddenException, Injectable } from '@nestjs/common';
import {
  EXCEPTION_FILTERS_METADATA,
  GUARDS_METADATA,
  INTERCEPTORS_METADATA,
} from '@nestjs/common/constants.js';
import { ApplicationConfig, ExternalContextCreator } from '@nestjs/core';
import { NonRetryableError } from '../errors/non-retryable.error.js';
import type { StreamHandlerFn } from '../interfaces/stream-handler.interface.js';
import type { StreamMessage } from '../interfaces/stream-message.interface.js';
import { STREAM_CONTEXT_TYPE } from './stream-context.js';

/** What Nest's guards throw when one of them returns false (its FORBIDDEN_MESSAGE). */
const GUARD_DENIED = 'Forbidden resource';

/** Which kinds of enhancers a handler has, its own or global. */
interface Bound {
  guards: boolean;
  interceptors: boolean;
  filters: boolean;
}

/** The host of a handler registered with StreamConsumers, which belongs to no class of its own. */
class RegisteredStreamHandler {
  constructor(private readonly fn: StreamHandlerFn) {}

  handle(payload: unknown, message: StreamMessage): unknown {
    return this.fn(payload, message);
  }
}

/**
 * Makes a stream handler callable as the consumer calls it, `(payload, message)`, through Nest's
 * guards, interceptors and exception filters, as a controller method is: those bound with
 * `@UseGuards`, `@UseInterceptors` and `@UseFilters` on its class or method, and the global ones.
 * The context's type is `redis-streams` (see stream-context.ts).
 *
 * A handler with none of them is the method itself, bound to its provider: the hot path pays
 * nothing for enhancers nobody uses. A guard that returns false makes the call a NonRetryableError
 * (dead-lettered with the reason): the guard will deny the entry again, and acknowledging it
 * unhandled would lose it silently.
 */
@Injectable()
export class HandlerEnhancers {
  constructor(
    private readonly contexts: ExternalContextCreator,
    private readonly config: ApplicationConfig,
  ) {}

  /** A provider's handler method, bound to it. */
  method(instance: object, methodName: string): StreamHandlerFn {
    const method = (instance as Record<string, StreamHandlerFn>)[methodName];
    const bound = this.bound(instance, method);
    if (!bound.guards && !bound.interceptors && !bound.filters) return method.bind(instance);
    const call = this.contexts.create(
      instance,
      method as (...args: unknown[]) => unknown,
      methodName,
      undefined,
      undefined,
      undefined,
      undefined,
      bound,
      STREAM_CONTEXT_TYPE,
    ) as StreamHandlerFn;
    if (!bound.guards) return call;
    const name = `${instance.constructor.name}.${methodName}`;
    return (payload, message) =>
      (call(payload, message) as Promise<unknown>).catch((error: unknown) => {
        throw deniedAsNonRetryable(error, name);
      });
  }

  /**
   * A handler registered by hand: it has no class or module of its own, so only the global
   * enhancers apply. Without any, it is the function itself.
   */
  registered(fn: StreamHandlerFn): StreamHandlerFn {
    const host = new RegisteredStreamHandler(fn);
    const bound = this.bound(host, RegisteredStreamHandler.prototype.handle);
    return bound.guards || bound.interceptors || bound.filters ? this.method(host, 'handle') : fn;
  }

  private bound(instance: object, method: StreamHandlerFn): Bound {
    const has = (key: string, global: readonly unknown[], scoped: readonly unknown[]) =>
      global.length > 0 ||
      scoped.length > 0 ||
      isNonEmpty(Reflect.getMetadata(key, instance.constructor)) ||
      isNonEmpty(Reflect.getMetadata(key, method));
    const { config } = this;
    return {
      guards: has(GUARDS_METADATA, config.getGlobalGuards(), config.getGlobalRequestGuards()),
      interceptors: has(
        INTERCEPTORS_METADATA,
        config.getGlobalInterceptors(),
        config.getGlobalRequestInterceptors(),
      ),
      filters: has(
        EXCEPTION_FILTERS_METADATA,
        config.getGlobalFilters(),
        config.getGlobalRequestFilters(),
      ),
    };
  }
}

/** A guard's denial as a NonRetryableError that names the handler; any other error as it is. */
function deniedAsNonRetryable(error: unknown, name: string): unknown {
  if (!(error instanceof ForbiddenException) || error.message !== GUARD_DENIED) return error;
  return new NonRetryableError(`a guard of ${name} denied the message`, { cause: error });
}

function isNonEmpty(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0;
}
