import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { CreateAlertDto } from './create-alert.dto.js';

/** Validates as the global ValidationPipe does (whitelist, forbidNonWhitelisted, transform). */
async function check(
  body: Record<string, unknown>,
): Promise<{ dto: CreateAlertDto; errors: string[] }> {
  const dto = plainToInstance(CreateAlertDto, body);
  const errors = await validate(dto, { whitelist: true, forbidNonWhitelisted: true });
  return { dto, errors: errors.flatMap((error) => Object.values(error.constraints ?? {})) };
}

const labels = (count: number): Record<string, string> =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [`key${i}`, `value${i}`]));

describe('CreateAlertDto', () => {
  it('accepts a message alone and defaults severity to critical', async () => {
    const { dto, errors } = await check({ message: 'Server down' });
    expect(errors).toEqual([]);
    expect(dto.severity).toBe('critical');
  });

  it('accepts every field within its limits', async () => {
    const { errors } = await check({
      message: 'x'.repeat(2000),
      severity: 'warning',
      source: 's'.repeat(200),
      labels: { ...labels(19), 'a.B_c-9': 'v'.repeat(256) },
    });
    expect(errors).toEqual([]);
  });

  it.each([
    ['missing', {}],
    ['empty', { message: '' }],
    ['blank', { message: '   ' }],
    ['not a string', { message: 42 }],
    ['too long', { message: 'x'.repeat(2001) }],
  ])('rejects a message that is %s', async (_, body) => {
    const { errors } = await check(body);
    expect(errors.some((error) => error.startsWith('message'))).toBe(true);
  });

  it.each(['fatal', null, ''])('rejects severity %p', async (severity) => {
    const { errors } = await check({ message: 'm', severity });
    expect(errors).toEqual([expect.stringContaining('severity must be one of')]);
  });

  it('rejects a source over 200 characters or null', async () => {
    expect((await check({ message: 'm', source: 's'.repeat(201) })).errors).toHaveLength(1);
    expect((await check({ message: 'm', source: null })).errors).toContain(
      'source must be a string',
    );
  });

  it('rejects unknown properties', async () => {
    const { errors } = await check({ message: 'm', priority: 'high' });
    expect(errors).toEqual(['property priority should not exist']);
  });

  describe('labels', () => {
    it.each([
      ['21 keys', labels(21), 'at most 20 keys'],
      ['a key over 64 characters', { ['k'.repeat(65)]: 'v' }, 'must be 1 to 64 characters'],
      ['an empty key', { '': 'v' }, 'must be 1 to 64 characters'],
      ['a key with a space', { 'bad key': 'v' }, 'only letters, digits'],
      ['a key with a slash', { 'a/b': 'v' }, 'only letters, digits'],
      ['a number value', { env: 1 }, 'must be a string'],
      ['a nested value', { env: { a: 'b' } }, 'must be a string'],
      ['a value over 256 characters', { env: 'v'.repeat(257) }, 'at most 256 characters'],
      ['an array', ['a'], 'must be an object'],
      ['a string', 'env=prod', 'must be an object'],
      ['null', null, 'must be an object'],
    ])('rejects %s', async (_, value, reason) => {
      const { errors } = await check({ message: 'm', labels: value });
      expect(errors).toEqual([expect.stringMatching(/^labels /)]);
      expect(errors[0]).toContain(reason);
    });

    it('drops prototype keys instead of failing on them', async () => {
      const { dto, errors } = await check({ message: 'm', labels: { constructor: 'v', env: 'p' } });
      expect(errors).toEqual([]);
      expect(dto.labels).toEqual({ env: 'p' });
    });

    it('accepts an empty object', async () => {
      expect((await check({ message: 'm', labels: {} })).errors).toEqual([]);
    });
  });
});
