import { randomBytes } from 'node:crypto';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import request from 'supertest';
import { AsyncLocalContextManager } from './support/async-local-context-manager.js';
import { appTestbed } from './support/app-testbed.js';
import { toRecord } from './support/stream-probe.js';
import type { RunningApp } from './support/test-app.js';
import { waitFor } from './support/wait-for.js';

const WEBHOOK_GROUP = 'alerts-webhook';
const RECORDER_GROUP = 'alerts-recorder';

/** A caller's trace context, as an upstream service would send it. */
function callerTrace(): { traceId: string; spanId: string; header: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, header: `00-${traceId}-${spanId}-01` };
}

describe('Trace context from the HTTP request to the handler', () => {
  const bed = appTestbed({ webhook: true });
  let app: RunningApp;

  beforeAll(async () => {
    app = await bed.start({
      CONSUMER_NAME: 'tracing-1',
    });
  });

  async function postAlert(
    message: string,
    traceparent?: string,
  ): Promise<{ id: string; eventId: string }> {
    const post = request(app.url).post('/alerts');
    if (traceparent) post.set('traceparent', traceparent);
    const response = await post.send({ message }).expect(202);
    return response.body as { id: string; eventId: string };
  }

  async function entryFields(id: string): Promise<Record<string, string>> {
    const [entry] = await bed.client.xrange('alerts', id, id);
    return toRecord(entry[1]);
  }

  function delivered(eventId: string) {
    return waitFor(
      () => bed.receiver.deliveries.find((d) => d.headers['idempotency-key'] === eventId),
      `the webhook delivery of ${eventId}`,
    );
  }

  // NOTE: the OpenTelemetry globals stay registered for the rest of this file once set: the
  // tests without an SDK come first, and the SDK is registered by the block after them.
  describe('without an OpenTelemetry SDK', () => {
    it('accepts and delivers a request with a traceparent, and writes no trace field', async () => {
      const { id, eventId } = await postAlert('no SDK here', callerTrace().header);
      await delivered(eventId);
      const fields = await entryFields(id);
      expect(Object.keys(fields).sort()).toEqual(['eventId', 'payload', 'publishedAt']);
    });
  });

  describe('with an SDK registered', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });

    beforeAll(() => {
      context.setGlobalContextManager(new AsyncLocalContextManager().enable());
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
      trace.setGlobalTracerProvider(provider);
    });

    afterAll(async () => {
      trace.disable();
      propagation.disable();
      context.disable();
      await provider.shutdown();
    });

    function spansOf(traceId: string): ReadableSpan[] {
      return exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    }

    function consumerSpan(traceId: string, group: string): Promise<ReadableSpan> {
      return waitFor(
        () =>
          spansOf(traceId).find(
            (s) =>
              s.kind === SpanKind.CONSUMER &&
              s.attributes['messaging.consumer.group.name'] === group,
          ),
        `the ${group} span of trace ${traceId}`,
      );
    }

    it("continues the caller's trace: publish span, entry field, then the handlers' spans", async () => {
      const caller = callerTrace();
      const { id, eventId } = await postAlert('traced', caller.header);

      const [publish] = spansOf(caller.traceId).filter((s) => s.kind === SpanKind.PRODUCER);
      expect(publish).toBeDefined();
      expect(publish.name).toBe('alerts publish');
      expect(publish.parentSpanContext?.spanId).toBe(caller.spanId);
      const publishSpanId = publish.spanContext().spanId;

      const fields = await entryFields(id);
      expect(fields.traceparent).toBe(`00-${caller.traceId}-${publishSpanId}-01`);

      await delivered(eventId);
      for (const group of [WEBHOOK_GROUP, RECORDER_GROUP]) {
        const span = await consumerSpan(caller.traceId, group);
        expect(span.name).toBe('alerts process');
        expect(span.parentSpanContext?.spanId).toBe(publishSpanId);
        expect(span.parentSpanContext?.isRemote).toBe(true);
        expect(span.attributes).toMatchObject({
          'messaging.destination.name': 'alerts',
          'messaging.message.id': id,
          'event.id': eventId,
          'messaging.delivery.attempt': 1,
        });
      }
    });

    it('starts a trace at the publish span when the request carries none', async () => {
      const before = new Set(exporter.getFinishedSpans().map((s) => s.spanContext().spanId));
      const { id, eventId } = await postAlert('untraced caller');
      const publish = exporter
        .getFinishedSpans()
        .find((s) => s.kind === SpanKind.PRODUCER && !before.has(s.spanContext().spanId));
      expect(publish).toBeDefined();
      expect(publish!.parentSpanContext).toBeUndefined();
      const { traceId, spanId } = publish!.spanContext();
      expect((await entryFields(id)).traceparent).toBe(`00-${traceId}-${spanId}-01`);

      await delivered(eventId);
      const span = await consumerSpan(traceId, WEBHOOK_GROUP);
      expect(span.parentSpanContext?.spanId).toBe(spanId);
    });
  });
});
