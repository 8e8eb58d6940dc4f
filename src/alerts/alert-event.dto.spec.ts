import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { AlertEventDto } from './alert-event.dto.js';

/** Validates as the stream library does for a handler's `dto`. */
async function check(
  payload: Record<string, unknown>,
): Promise<{ dto: AlertEventDto; errors: string[] }> {
  const dto = plainToInstance(AlertEventDto, payload);
  const errors = await validate(dto, { whitelist: true, forbidUnknownValues: true });
  return { dto, errors: errors.flatMap((error) => Object.values(error.constraints ?? {})) };
}

describe('AlertEventDto', () => {
  it('accepts what the API publishes', async () => {
    const { dto, errors } = await check({
      message: 'Server down',
      severity: 'warning',
      source: 'web-1',
      labels: { env: 'prod' },
      receivedAt: '2026-01-01T00:00:00.000Z',
    });
    expect(errors).toEqual([]);
    expect(dto.receivedAt).toBe('2026-01-01T00:00:00.000Z');
  });

  it('accepts flat fields from another producer, with labels as JSON text', async () => {
    const { dto, errors } = await check({
      message: 'Disk full',
      labels: '{"env":"prod"}',
      host: 'x',
    });
    expect(errors).toEqual([]);
    expect(dto.labels).toEqual({ env: 'prod' });
  });

  it('drops a "constructor" label key instead of throwing', async () => {
    const { dto, errors } = await check({ message: 'm', labels: { constructor: 'x', a: 'b' } });
    expect(errors).toEqual([]);
    expect(dto.labels).toEqual({ a: 'b' });
  });

  it.each([
    ['no message', { severity: 'info' }, 'message'],
    ['an empty message', { message: '' }, 'message'],
    ['an unknown severity', { message: 'm', severity: 'fatal' }, 'severity'],
    ['labels that are not JSON', { message: 'm', labels: 'env=prod' }, 'labels'],
    ['a bad label key', { message: 'm', labels: { 'a b': 'c' } }, 'labels'],
  ])('rejects %s', async (_, payload, property) => {
    const { errors } = await check(payload);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((error) => error.startsWith(property))).toBe(true);
  });
});
