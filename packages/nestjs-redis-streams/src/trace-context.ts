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
  // Without an SDK the span would be a no-op that only passes on the active context: pass that on
  // directly (a traceparent taken from upstream still travels), without a span and its promises.
  if (!tracingEnabled()) return publish(activeTraceFields());
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
      try {
        return await publish(activeTraceFields());
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** The fields that carry the active context (`traceparent`, `tracestate`), if it has one. */
function activeTraceFields(): string[] {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  const fields: string[] = [];
  for (const name of TRACE_FIELDS) if (carrier[name]) fields.push(name, carrier[name]);
  return fields;
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
