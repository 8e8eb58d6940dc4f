import { plainToInstance } from 'class-transformer';
import { validate, type ValidationError } from 'class-validator';
import { NonRetryableError } from '../errors/non-retryable.error.js';
import type { DtoClass } from '../interfaces/stream-handler.interface.js';

/** Validates a payload against a class-validator class; a failure can never succeed later, so it is non-retryable. */
export async function validatePayload(dto: DtoClass, payload: unknown): Promise<object> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new NonRetryableError(
      `payload must be a JSON object, got ${Array.isArray(payload) ? 'array' : typeof payload}`,
    );
  }
  let instance: object;
  let errors: ValidationError[];
  try {
    instance = plainToInstance(dto as new () => object, payload);
    errors = await validate(instance, { whitelist: true, forbidUnknownValues: true });
  } catch (error) {
    // class-transformer can throw on hostile shapes (e.g. a nested "constructor" key): never retryable.
    throw new NonRetryableError(`payload could not be validated: ${(error as Error).message}`);
  }
  if (errors.length > 0) {
    throw new NonRetryableError(`payload failed validation: ${describe(errors).join('; ')}`);
  }
  return instance;
}

function describe(errors: ValidationError[], prefix = ''): string[] {
  return errors.flatMap((error) => {
    const path = `${prefix}${error.property}`;
    const own = Object.values(error.constraints ?? {}).map((text) => `${path}: ${text}`);
    return [...own, ...describe(error.children ?? [], `${path}.`)];
  });
}
