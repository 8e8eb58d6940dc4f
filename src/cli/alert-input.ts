import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { CreateAlertDto } from '../alerts/create-alert.dto.js';
import { InvalidInputError } from './cli.errors.js';

/**
 * Checks an alert exactly as `POST /alerts` does (the same DTO, unknown properties refused) and
 * returns it with its defaults; throws an `InvalidInputError` that lists every problem otherwise.
 */
export function toValidAlert(input: Record<string, unknown>): CreateAlertDto {
  let alert: CreateAlertDto;
  let errors: ValidationError[];
  try {
    alert = plainToInstance(CreateAlertDto, input);
    errors = validateSync(alert, { whitelist: true, forbidNonWhitelisted: true });
  } catch {
    // class-transformer throws on shapes it cannot walk, as the HTTP pipe notes.
    throw new InvalidInputError('The alert could not be validated (too deeply nested?)', 'publish');
  }
  if (errors.length > 0) {
    const problems = errors.flatMap((error) => Object.values(error.constraints ?? {}));
    throw new InvalidInputError(
      `Invalid alert:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`,
      'publish',
    );
  }
  return alert;
}
