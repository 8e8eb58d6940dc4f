import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsNotEmpty, IsString, Matches, MaxLength, ValidateIf } from 'class-validator';
import { ALERT_LIMITS, DEFAULT_SEVERITY, SEVERITIES, type Severity } from './alerts.constants.js';
import { IsLabels } from './labels.validator.js';

/** Absent is fine, `null` is not: an optional property, when sent, must be valid. */
const isPresent = (_: object, value: unknown): boolean => value !== undefined;

/** Body of `POST /alerts`. Unknown properties are rejected by the global ValidationPipe. */
export class CreateAlertDto {
  /** What happened, for a human: 1 to 2000 characters, not only spaces. */
  @ApiProperty({
    type: String,
    minLength: 1,
    maxLength: ALERT_LIMITS.messageMaxLength,
    example: 'Server down',
  })
  @IsString()
  @IsNotEmpty()
  @Matches(/\S/, { message: 'message must not be blank' })
  @MaxLength(ALERT_LIMITS.messageMaxLength)
  message!: string;

  /** `info`, `warning` or `critical` (the default). */
  @ApiPropertyOptional({ enum: SEVERITIES, default: DEFAULT_SEVERITY })
  @IsIn(SEVERITIES)
  severity: Severity = DEFAULT_SEVERITY;

  /** What raised the alert, e.g. a host or a service name. */
  @ApiPropertyOptional({ type: String, maxLength: ALERT_LIMITS.sourceMaxLength, example: 'db-1' })
  @ValidateIf(isPresent)
  @IsString()
  @MaxLength(ALERT_LIMITS.sourceMaxLength)
  source?: string;

  /** Free-form string labels, e.g. `{ "env": "prod" }`. */
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: ALERT_LIMITS.labelValueMaxLength },
    maxProperties: ALERT_LIMITS.labelsMaxKeys,
    example: { env: 'prod' },
  })
  @ValidateIf(isPresent)
  // A plain map: otherwise class-transformer takes a "constructor" key for a class and throws.
  @Type(() => Object)
  @IsLabels()
  labels?: Record<string, string>;
}
