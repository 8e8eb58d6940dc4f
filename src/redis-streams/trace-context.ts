import {
  context,
  propagation,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
} from '@opentelemetry/api';

/**
 * W3C trace context across the stream, with @opentelemetry/api: the publisher writes the active
 * context as a `traceparent` field, the consumer continues it around the handler. Without an
 * OpenTelemetry SDK registered, every call here is a cheap no-op and no field is written.
 */
const tracer = trace.getTracer('redis-streams');

// What the global tracer provider delegates to while no SDK is registered.
const NO_SDK = new ProxyTracerProvider().getDelegate();

/**
 * Whether an OpenTelemetry SDK is registered. Without one a span is a no-op, so the consumer's hot
 * path skips the span (and the promise around it) altogether. Asked per call: an SDK may come
 * after this module was loaded.
 */
export function tracingEnabled(): boolean {
  const provider = trace.getTracerProvider();
  const active = provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider;
  return active !== NO_SDK;
}

export const TRACE_FIELDS = ['traceparent', 'tracestate'] as const;

/** Runs `publish` inside a producer span and hands it the fields that carry the span's context. */
export function withPublishSpan<T>(
  stream: string,
  count: number,
  publish: (traceFields: string[]) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(
    `${stream} publish`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'redis',
        'messaging.destination.name': stream,
        'messaging.batch.message_count': count,
      },
    },
    async (span) => {
      const carrier: Record<string, string> = {};
      propagation.inject(context.active(), carrier);
      const fields = TRACE_FIELDS.flatMap((name) => (carrier[name] ? [name, carrier[name]] : []));
      try {
        return await publish(fields);
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** Runs `handle` inside a consumer span whose parent is the context found in the entry's fields. */
export function withHandleSpan<T>(
  fields: Record<string, string>,
  attributes: { stream: string; group: string; id: string; eventId: string; attempt: number },
  handle: () => T | Promise<T>,
): Promise<T> {
  const parent: Context = fields.traceparent
    ? propagation.extract(ROOT_CONTEXT, fields)
    : ROOT_CONTEXT;
  return tracer.startActiveSpan(
    `${attributes.stream} process`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'redis',
        'messaging.destination.name': attributes.stream,
        'messaging.consumer.group.name': attributes.group,
        'messaging.message.id': attributes.id,
        'event.id': attributes.eventId,
        'messaging.delivery.attempt': attributes.attempt,
      },
    },
    parent,
    async (span) => {
      try {
        return await handle();
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}
