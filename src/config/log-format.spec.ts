import { ConfigValidationError, validate } from './env.validation.js';
import { createLogger, logFormatFor } from './log-format.js';

describe('logFormatFor', () => {
  it('writes JSON lines in production and readable lines elsewhere', () => {
    expect(logFormatFor({ NODE_ENV: 'production' })).toBe('json');
    expect(logFormatFor({ NODE_ENV: 'development' })).toBe('text');
    expect(logFormatFor({ NODE_ENV: 'test' })).toBe('text');
    expect(logFormatFor({})).toBe('text');
  });

  it('follows LOG_FORMAT whatever NODE_ENV says', () => {
    expect(logFormatFor({ NODE_ENV: 'production', LOG_FORMAT: 'text' })).toBe('text');
    expect(logFormatFor({ NODE_ENV: 'development', LOG_FORMAT: 'json' })).toBe('json');
    expect(logFormatFor({ LOG_FORMAT: 'json' })).toBe('json');
  });

  it('reads the environment through validate: empty is unset, anything else is refused', () => {
    expect(logFormatFor(validate({ NODE_ENV: 'production', LOG_FORMAT: '' }))).toBe('json');
    expect(() => validate({ LOG_FORMAT: 'xml' })).toThrow(ConfigValidationError);
    try {
      validate({ LOG_FORMAT: 'xml' });
    } catch (error) {
      expect((error as ConfigValidationError).problems).toEqual([
        'LOG_FORMAT: must be one of json, text (got "xml")',
      ]);
    }
  });
});

describe('createLogger', () => {
  const original = process.stdout.write;
  let written: string[];

  beforeEach(() => {
    written = [];
    process.stdout.write = ((chunk: unknown) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
  });

  afterEach(() => {
    process.stdout.write = original;
  });

  it('prints one JSON object per line, with structured fields at the top level', () => {
    const logger = createLogger({ LOG_FORMAT: 'json', LOG_LEVEL: 'log' });
    logger.log('Delivered', { stream: 'alerts', eventId: 'e-1', attempt: 2 }, 'Webhook');
    expect(written).toHaveLength(1);
    expect(written[0].endsWith('\n')).toBe(true);
    expect(written[0].trimEnd()).not.toContain('\n');
    expect(JSON.parse(written[0])).toMatchObject({
      level: 'log',
      message: 'Delivered',
      context: 'Webhook',
      stream: 'alerts',
      eventId: 'e-1',
      attempt: 2,
    });
  });

  it('prints readable text otherwise, and nothing below LOG_LEVEL', () => {
    const logger = createLogger({ NODE_ENV: 'development', LOG_LEVEL: 'warn' });
    logger.log('not shown', 'Main');
    logger.warn('Redis is slow', 'Main');
    expect(written).toHaveLength(1);
    // eslint-disable-next-line no-control-regex
    const line = written[0].replace(/\x1b\[[0-9;]*m/g, '');
    expect(line).toMatch(/WARN \[Main\] Redis is slow\n$/);
    expect(() => JSON.parse(line)).toThrow();
  });
});
