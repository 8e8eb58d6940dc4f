import {
  Catch,
  Inject,
  Injectable,
  UseFilters,
  UseGuards,
  UseInterceptors,
  type ArgumentsHost,
  type CallHandler,
  type CanActivate,
  type ExceptionFilter,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { tap, type Observable } from 'rxjs';
import {
  RetryLaterError,
  STREAM_CONTEXT_TYPE,
  StreamConsumers,
  StreamHandler,
  StreamPublisher,
  streamMessageOf,
  type StreamMessage,
} from '../src/index.js';
import { PROBE, Probe, toRecord } from './support/stream-probe.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { waitFor } from './support/wait-for.js';

/** What the enhancers saw, in order. */
const SEEN = Symbol('seen');
type Seen = string[];

/** Lets through what is not marked `deny`; records what the context said. */
@Injectable()
class DenyMarked implements CanActivate {
  constructor(@Inject(SEEN) private readonly seen: Seen) {}

  canActivate(context: ExecutionContext): boolean {
    const payload = context.switchToRpc().getData<{ n: number; deny?: boolean }>();
    const message = streamMessageOf(context)!;
    this.seen.push(`guard ${context.getType()} ${message.group} n=${payload.n}`);
    return payload.deny !== true;
  }
}

@Injectable()
class AroundCalls implements NestInterceptor {
  constructor(@Inject(SEEN) private readonly seen: Seen) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const { n } = context.switchToRpc().getData<{ n: number }>();
    this.seen.push(`before n=${n} ${context.getClass().name}.${context.getHandler().name}`);
    return next.handle().pipe(tap(() => this.seen.push(`after n=${n}`)));
  }
}

class ReceiverBusy extends Error {}
class Ignorable extends Error {}

/** A busy receiver is no failure of the entry: retry without spending an attempt. */
@Catch(ReceiverBusy)
class BusyAsRetryLater implements ExceptionFilter {
  catch(error: ReceiverBusy, host: ArgumentsHost): never {
    throw new RetryLaterError(`${streamMessageOf(host)!.group}: ${error.message}`);
  }
}

/** Returning a value (not rethrowing) makes the call a success: the entry is acknowledged. */
@Catch(Ignorable)
class IgnoreIgnorable implements ExceptionFilter {
  catch(): string {
    return 'ignored';
  }
}

@Injectable()
@UseInterceptors(AroundCalls)
class Guarded {
  constructor(@Inject(PROBE) private readonly probe: Probe) {}

  @StreamHandler('orders', { group: 'guarded' })
  @UseGuards(DenyMarked)
  handle(payload: unknown, message: StreamMessage): unknown {
    return this.probe.record('guarded', payload, message);
  }
}

@Injectable()
class Filtered {
  private busy = true;

  constructor(@Inject(PROBE) private readonly probe: Probe) {}

  @StreamHandler('orders', { group: 'filtered', maxAttempts: 1 })
  @UseFilters(BusyAsRetryLater, IgnoreIgnorable)
  handle(payload: { n: number }, message: StreamMessage): unknown {
    this.probe.record('filtered', payload, message);
    if (payload.n === 1 && this.busy) {
      this.busy = false;
      throw new ReceiverBusy('receiver busy');
    }
    if (payload.n === 2) throw new Ignorable('nothing to deliver');
    return undefined;
  }
}

@Injectable()
class Plain {
  @StreamHandler('orders', { group: 'plain' })
  handle(): string {
    return 'done';
  }
}

/** Guards, interceptors and filters around stream handlers, as around controller methods. */
describe('Stream handlers through Nest enhancers', () => {
  const bed = streamsTestbed();
  const base = { consumerName: 'c1', handlerDefaults: { blockMs: 100 } };

  const deadLetters = async () =>
    (await bed.client.xrange('orders:dlq', '-', '+')).map(([, fields]) => toRecord(fields));
  const pending = async (group: string) =>
    Number(((await bed.client.xpending('orders', group)) as [number])[0]);

  it('runs guards and interceptors around the handler; a denying guard dead-letters the entry with the reason', async () => {
    const probe = new Probe();
    const seen: Seen = [];
    const app = await bed.start(base, [
      { provide: PROBE, useValue: probe },
      { provide: SEEN, useValue: seen },
      Guarded,
    ]);
    const publisher = app.get(StreamPublisher);
    await publisher.publish('orders', { n: 1, deny: true });
    await waitFor(async () => (await deadLetters()).length === 1, 'the denied entry dead-lettered');
    await publisher.publish('orders', { n: 2 });
    await waitFor(() => probe.calls.length === 1, 'the allowed entry handled');
    await waitFor(() => seen.includes('after n=2'), 'the interceptor to see the result');

    expect(probe.calls.map((call) => call.payload)).toEqual([{ n: 2 }]);
    expect(seen).toEqual([
      `guard ${STREAM_CONTEXT_TYPE} guarded n=1`,
      `guard ${STREAM_CONTEXT_TYPE} guarded n=2`,
      'before n=2 Guarded.handle',
      'after n=2',
    ]);
    expect(await deadLetters()).toEqual([
      expect.objectContaining({
        'dlq-group': 'guarded',
        'dlq-error': 'NonRetryableError: a guard of Guarded.handle denied the message',
      }),
    ]);
    await waitFor(async () => (await pending('guarded')) === 0, 'both entries settled');
  });

  it('lets a filter turn an error into a RetryLaterError, or into a success by returning a value', async () => {
    const probe = new Probe();
    const app = await bed.start(base, [{ provide: PROBE, useValue: probe }, Filtered]);
    await app.get(StreamPublisher).publishMany('orders', [
      { payload: { n: 1 }, eventId: 'busy-once' },
      { payload: { n: 2 }, eventId: 'ignorable' },
    ]);
    // maxAttempts 1: without the filter, the busy entry would be dead-lettered at once.
    await waitFor(() => probe.calls.length === 3, 'the busy entry tried again', 5_000);
    await waitFor(async () => (await pending('filtered')) === 0, 'both acknowledged');
    // Busy spends no attempt: the second call is attempt 1 again.
    expect(
      probe.calls.map((call) => `${call.message.eventId} ${call.message.attempt}`).sort(),
    ).toEqual(['busy-once 1', 'busy-once 1', 'ignorable 1']);
    expect(await deadLetters()).toEqual([]);
  });

  it('applies global interceptors to decorated and registered handlers alike', async () => {
    const seen: Seen = [];
    const probe = new Probe();
    const app = await bed.start(base, [
      { provide: SEEN, useValue: seen },
      { provide: APP_INTERCEPTOR, useClass: AroundCalls },
      Plain,
    ]);
    app.get(StreamConsumers).register('orders', { group: 'registered' }, (payload, message) => {
      probe.record('registered', payload, message);
    });
    await app.get(StreamPublisher).publish('orders', { n: 7 });
    await waitFor(() => seen.filter((line) => line === 'after n=7').length === 2, 'both calls');
    expect(seen.filter((line) => line.startsWith('before')).sort()).toEqual([
      'before n=7 Plain.handle',
      'before n=7 RegisteredStreamHandler.handle',
    ]);
    expect(probe.calls).toHaveLength(1);
  });
});
