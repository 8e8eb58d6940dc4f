import 'reflect-metadata';
import type { ArgumentMetadata } from '@nestjs/common';
import { RequestValidationPipe } from '../common/request-validation.pipe.js';
import { SeededRandom } from '../../test/support/seeded-random.js';
import { ALERT_LIMITS } from './alerts.constants.js';
import { CreateAlertDto } from './create-alert.dto.js';
import { validCreateAlert } from './create-alert.shortcut.js';

const BODY: ArgumentMetadata = { type: 'body', metatype: CreateAlertDto, data: '' };
/** The global pipe without shortcuts: the reference the shortcut must agree with. */
const full = new RequestValidationPipe();

async function fullValidation(body: unknown): Promise<CreateAlertDto | undefined> {
  try {
    return (await full.transform(body, BODY)) as CreateAlertDto;
  } catch {
    return undefined;
  }
}

/** Bodies near every rule's edge, valid or not, from the JSON a client may send. */
function randomBody(random: SeededRandom): unknown {
  const text = (max: number) =>
    random.chance(0.3)
      ? random.unicode(random.int(0, max))
      : random.stringOf('ab \t\n', random.int(0, Math.min(max, 8)));
  const value = (max: number): unknown =>
    random.pick([text(max), text(max), 42, null, true, [], {}, ['x'], { a: 'b' }]);
  if (random.chance(0.05)) return value(10);
  const body: Record<string, unknown> = {};
  if (random.chance(0.95)) {
    body.message = random.chance(0.8)
      ? random.pick(['Server down', ' ', '', 'x'.repeat(ALERT_LIMITS.messageMaxLength)]) +
        (random.chance(0.3) ? text(4) : '')
      : value(ALERT_LIMITS.messageMaxLength + 5);
  }
  if (random.chance(0.5)) {
    body.severity = random.chance(0.8)
      ? random.pick(['info', 'warning', 'critical', 'fatal', 'CRITICAL'])
      : value(3);
  }
  if (random.chance(0.5)) {
    body.source = random.chance(0.7)
      ? random.pick(['db-1', 's'.repeat(ALERT_LIMITS.sourceMaxLength)]) +
        (random.chance(0.3) ? text(3) : '')
      : value(5);
  }
  if (random.chance(0.5)) {
    const labels: Record<string, unknown> = {};
    const count = random.pick([
      0,
      1,
      3,
      ALERT_LIMITS.labelsMaxKeys,
      ALERT_LIMITS.labelsMaxKeys + 1,
    ]);
    for (let i = 0; i < count; i++) {
      const key = random.chance(0.9)
        ? `k${i}`
        : random.pick(['', 'a b', 'constructor', '__proto__', 'x'.repeat(65), 'ü']);
      labels[key] = random.chance(0.9) ? text(ALERT_LIMITS.labelValueMaxLength + 2) : value(3);
    }
    body.labels = random.chance(0.9) ? labels : value(3);
  }
  if (random.chance(0.1)) body[random.pick(['priority', 'receivedAt', '__proto__', 'id'])] = 'x';
  // The body as the JSON parser hands it over: own "__proto__" keys and all.
  return JSON.parse(JSON.stringify(body)) as unknown;
}

/**
 * Where the shortcut must say yes whenever the full validation does: within the limits in UTF-16
 * units too, and without "__proto__" keys, which Nest's ValidationPipe deletes from the body
 * before validating, or a "constructor" label, which class-transformer drops (the shortcut leaves
 * such bodies to them).
 */
function plainAndWithinUtf16Limits(body: unknown): boolean {
  if (/"(__proto__|constructor)"/.test(JSON.stringify(body) ?? '')) return false;
  const { message, source } = (body ?? {}) as { message?: unknown; source?: unknown };
  return (
    (typeof message !== 'string' || message.length <= ALERT_LIMITS.messageMaxLength) &&
    (typeof source !== 'string' || source.length <= ALERT_LIMITS.sourceMaxLength)
  );
}

describe('validCreateAlert', () => {
  it('makes of a typical alert the DTO the full validation makes', async () => {
    const body = {
      message: 'Disk full',
      severity: 'warning',
      source: 'db-1',
      labels: { dc: 'eu-1' },
    };
    const dto = validCreateAlert(body);
    expect(dto).toBeInstanceOf(CreateAlertDto);
    expect(dto).toEqual(await fullValidation(body));
  });

  it('defaults severity to critical, as the DTO does', () => {
    expect(validCreateAlert({ message: 'm' })).toEqual(
      Object.assign(new CreateAlertDto(), { message: 'm', severity: 'critical' }),
    );
  });

  it('leaves anything it cannot vouch for to the full validation', () => {
    for (const body of [
      undefined,
      null,
      'text',
      [],
      { message: ' ' },
      { message: 'm', severity: null },
      { message: 'm', labels: null },
      { message: 'm', labels: { 'bad key': 'v' } },
      { message: 'm', extra: 1 },
      JSON.parse('{"message":"m","__proto__":{"x":1}}') as unknown,
      { message: '😀'.repeat(ALERT_LIMITS.messageMaxLength) },
    ]) {
      expect(validCreateAlert(body)).toBeUndefined();
    }
  });

  it('agrees with the full validation on random bodies: never yes where it says no, yes where it says yes within UTF-16 limits', async () => {
    const random = new SeededRandom(SeededRandom.seedFrom('FUZZ_SEED'));
    let accepted = 0;
    for (let i = 0; i < 3_000; i++) {
      const body = randomBody(random);
      const ordinary = plainAndWithinUtf16Limits(body);
      const context = `seed ${random.seed}, body ${JSON.stringify(body)?.replace(/(.)\1{20,}/g, '$1…')}`;
      const fast = validCreateAlert(body);
      // Last: the ValidationPipe changes the body it validates (see above).
      const reference = await fullValidation(body);
      if (fast !== undefined) {
        expect({ context, dto: reference }).toEqual({ context, dto: fast });
        expect(reference).toBeInstanceOf(CreateAlertDto);
        accepted++;
      } else if (reference !== undefined && ordinary) {
        throw new Error(`the shortcut refused a valid body: ${context}`);
      }
    }
    // The fuzz reached both sides.
    expect(accepted).toBeGreaterThan(100);
  });
});
