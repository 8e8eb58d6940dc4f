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

  it('accepts what the Alertmanager intake publishes, with its larger label sets', async () => {
    const labels = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`l${i}`, 'v']));
    const { dto, errors } = await check({
      message: 'Disk full',
      severity: 'warning',
      source: 'db-1:9100',
      labels,
      alertStatus: 'resolved',
      startsAt: '2024-01-01T00:00:00.000Z',
      endsAt: '2024-01-01T00:10:00.000Z',
      fingerprint: '0123456789abcdef',
      generatorURL: 'http://prometheus:9090/graph',
      annotations: { summary: 'Disk full', description: 'd'.repeat(4_096) },
    });
    expect(errors).toEqual([]);
    expect(dto).toMatchObject({ alertStatus: 'resolved', labels });
  });

  it('holds an entry that is not relayed to the labels of POST /alerts, as before', async () => {
    const labels = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`l${i}`, 'v']));
    const { errors } = await check({ message: 'm', labels });
    expect(errors).toEqual(['labels must have at most 20 keys, got 21']);
  });

  it.each([
    ['no message', { severity: 'info' }, 'message'],
    ['an empty message', { message: '' }, 'message'],
    ['an unknown severity', { message: 'm', severity: 'fatal' }, 'severity'],
    ['labels that are not JSON', { message: 'm', labels: 'env=prod' }, 'labels'],
    ['a bad label key', { message: 'm', labels: { 'a b': 'c' } }, 'labels'],
    ['an unknown alert status', { message: 'm', alertStatus: 'pending' }, 'alertStatus'],
    ['a startsAt that is no time', { message: 'm', startsAt: 'soon' }, 'startsAt'],
    [
      'annotations over 4096 characters',
      { message: 'm', annotations: { d: 'd'.repeat(4_097) } },
      'annotations',
    ],
  ])('rejects %s', async (_, payload, property) => {
    const { errors } = await check(payload);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((error) => error.startsWith(property))).toBe(true);
  });
});
