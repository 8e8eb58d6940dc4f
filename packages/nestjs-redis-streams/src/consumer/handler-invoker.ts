import { callWithDeadline } from './call-deadline.js';
import { InfrastructureError } from '../errors/infrastructure-error.js';
import { validatePayload } from './payload-validator.js';
import { decodeEntry, mayHaveLostBytes, toRawEntry, type RawEntry } from '../stream-codec.js';
import type { StreamMessage } from '../interfaces/stream-message.interface.js';
import { tracingEnabled, withHandleSpan } from '../trace-context.js';
import type { ConsumerContext } from './consumer-definition.js';
import type { EventClaims } from './event-claims.js';

/**
 * How one invocation went. `entry` is the entry as it was handled: read again as bytes when its
 * text lost some (see readAsBytes), which is what a dead letter must copy.
 * - `handled`: the handler returned.
 * - `duplicate`: an idempotent handler's event was handled before; the handler did not run.
 * - `event-busy`: another delivery of the same event is running; the handler did not run.
 * - `failed`: decoding, validation, the idempotency claim or the handler threw `error`.
 */
export type Invocation = { entry: RawEntry; eventId: string } & (
  | { outcome: 'handled'; durationMs: number }
  | { outcome: 'duplicate' }
  | { outcome: 'event-busy' }
  | { outcome: 'failed'; error: unknown }
);

/** What an ordered consumer adds to the message its handler gets. */
export type MessageExtras = Pick<StreamMessage, 'partition' | 'fencingToken'>;

/**
 * Runs one attempt of one entry through the steps every consumer shares: decode, take the
 * idempotency claim, validate the payload, open a trace span, call the handler. Never throws:
 * everything that goes wrong is the invocation's outcome, for `decide` to judge.
 */
export class HandlerInvoker {
  constructor(
    private readonly context: ConsumerContext,
    /** Only for idempotent handlers. */
    private readonly claims: EventClaims | undefined,
    /** Aborts when the consumer stops; a message with a timeout gets a signal of its own. */
    private readonly stopSignal: AbortSignal = new AbortController().signal,
  ) {}

  async invoke(
    entry: RawEntry,
    attempt: number,
    stream: string,
    extras?: MessageExtras,
  ): Promise<Invocation> {
    const { group, dto, rawFields } = this.context.definition;
    let eventId = entry.id;
    try {
      if (mayHaveLostBytes(entry)) entry = await this.readAsBytes(entry, stream);
      const decoded = decodeEntry(entry, this.context.runtime.maxValueBytes, rawFields);
      eventId = decoded.eventId;
      if (this.claims) {
        const claim = await this.claims.claim(entry.id, eventId);
        if (claim === 'done') return { entry, eventId, outcome: 'duplicate' };
        if (claim === 'busy') return { entry, eventId, outcome: 'event-busy' };
      }
      const payload = dto ? await validatePayload(dto, decoded.payload) : decoded.payload;
      const message: StreamMessage = {
        id: entry.id,
        stream,
        group,
        consumer: this.context.runtime.consumerName,
        eventId,
        attempt,
        fields: decoded.fields,
        signal: this.stopSignal,
        ...extras,
      };
      const started = performance.now();
      const { timeoutMs } = this.context.definition.flow;
      if (timeoutMs !== undefined) {
        await this.callWithin(timeoutMs, payload, message);
      } else if (tracingEnabled()) {
        await withHandleSpan(decoded.fields, message, () =>
          this.context.definition.handle(payload, message),
        );
      } else {
        const returned = this.context.definition.handle(payload, message);
        // A handler that returned no promise is done: no need to wait a turn for it.
        if (isThenable(returned)) await returned;
      }
      return { entry, eventId, outcome: 'handled', durationMs: performance.now() - started };
    } catch (error) {
      return { entry, eventId, outcome: 'failed', error };
    }
  }

  /**
   * Calls the handler with a signal that aborts at `timeoutMs` (or on stop), and gives up on it
   * then: the call may go on, but its attempt has failed and its slot is free.
   */
  private callWithin(timeoutMs: number, payload: unknown, message: StreamMessage): Promise<void> {
    return callWithDeadline(timeoutMs, this.stopSignal, async (signal) => {
      const call = { ...message, signal };
      const run = (): unknown => this.context.definition.handle(payload, call);
      await (tracingEnabled()
        ? withHandleSpan(message.fields, call, run)
        : Promise.resolve().then(run));
    });
  }

  /**
   * An entry read as text with a value that is not UTF-8 is read again as bytes, so that it is
   * dead-lettered byte for byte. Deleted in between, the text is all there is.
   */
  private async readAsBytes(text: RawEntry, stream: string): Promise<RawEntry> {
    try {
      const [reply] = await this.context.redis().xrangeBuffer(stream, text.id, text.id);
      return (reply && toRawEntry(reply)) || text;
    } catch (error) {
      throw new InfrastructureError('read the entry again as bytes', { cause: error });
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}
