import {
  BadRequestException,
  Logger,
  NotFoundException,
  ServiceUnavailableException,
  type CallHandler,
  type ExecutionContext,
} from '@nestjs/common';
import { firstValueFrom, from, NEVER, throwError, type Observable } from 'rxjs';
import { UnknownGroupError } from '../flow/group-flows.js';
import {
  UnknownStreamError,
  type StreamInspector,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { ADMIN_REQUEST_TIMEOUT_MS } from './admin.constants.js';
import { InspectorErrorsInterceptor } from './inspector-errors.interceptor.js';

// Jest's ESM mode has no global `jest`: it is on import.meta.
const { jest } = import.meta as unknown as { jest: typeof globalThis.jest };

const inspector = { knownStreams: () => ['alerts', 'alerts:dlq'] } as unknown as StreamInspector;
const context = {
  switchToHttp: () => ({ getRequest: () => ({ params: { stream: 'alerts', group: 'ghosts' } }) }),
} as unknown as ExecutionContext;

function run(handled: Observable<unknown>): Promise<unknown> {
  const interceptor = new InspectorErrorsInterceptor(inspector);
  const next: CallHandler = { handle: () => handled };
  return firstValueFrom(interceptor.intercept(context, next));
}

const failing = (error: unknown) => run(throwError(() => error));

describe('InspectorErrorsInterceptor', () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  it('passes answers through', async () => {
    await expect(run(from([{ items: [] }]))).resolves.toEqual({ items: [] });
  });

  it('answers 404 for an unknown stream, naming the known ones', async () => {
    const error = await failing(new UnknownStreamError('secrets')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundException);
    expect((error as Error).message).toBe(
      'Unknown stream "secrets": this service handles alerts, alerts:dlq',
    );
  });

  it('answers 404 for an unknown consumer group', async () => {
    const error = await failing(
      new Error("NOGROUP No such key 'alerts' or consumer group 'ghosts'"),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundException);
    expect((error as Error).message).toContain('"ghosts"');
  });

  it('answers 404 for a group no handler of this service consumes, naming those that are', async () => {
    const error = await failing(
      new UnknownGroupError('alerts', 'ghosts', ['alerts-recorder', 'alerts-webhook']),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundException);
    expect((error as Error).message).toBe(
      'No handler of this service consumes stream "alerts" as group "ghosts"; its groups are alerts-recorder, alerts-webhook',
    );
  });

  it('answers 400 with the details for a bad id or count', async () => {
    const error = await failing(new RangeError('"x" is not a stream entry id')).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BadRequestException);
    expect((error as BadRequestException).getResponse()).toMatchObject({
      message: ['"x" is not a stream entry id'],
    });
  });

  it('answers 503 when Redis fails or refuses', async () => {
    for (const message of [
      "Stream isn't writeable and enableOfflineQueue options is false",
      'Command timed out',
      'LOADING Redis is loading the dataset in memory',
    ]) {
      await expect(failing(new Error(message))).rejects.toBeInstanceOf(ServiceUnavailableException);
    }
  });

  it('keeps HTTP errors and programming errors as they are', async () => {
    const http = new BadRequestException('no');
    await expect(failing(http)).rejects.toBe(http);
    const bug = new TypeError('x is undefined');
    await expect(failing(bug)).rejects.toBe(bug);
  });

  it('answers 503 instead of waiting for a Redis that does not answer', async () => {
    jest.useFakeTimers();
    try {
      const answer = run(NEVER).catch((e: unknown) => e);
      await jest.advanceTimersByTimeAsync(ADMIN_REQUEST_TIMEOUT_MS);
      const error = await answer;
      expect(error).toBeInstanceOf(ServiceUnavailableException);
      expect((error as Error).message).toContain('repeating it is safe');
    } finally {
      jest.useRealTimers();
    }
  });
});
