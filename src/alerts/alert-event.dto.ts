import { Transform, Type } from 'class-transformer';
import {
  IsIn,
  IsISO8601,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
} from 'class-validator';
import {
  ALERT_LIMITS,
  ALERT_STATUSES,
  EVENT_LIMITS,
  SEVERITIES,
  type AlertStatus,
  type Severity,
} from './alerts.constants.js';
import { IsLabels, eventLabelLimits } from './labels.validator.js';

/** Producers writing flat fields can only send strings, so labels may arrive as a JSON text. */
function parseJsonText(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/**
 * An alert as read from the `alerts` stream, from this service's API or from any other producer
 * (`XADD alerts * message "Server down" severity warning`). An entry that does not fit is
 * dead-lettered with the reason instead of being retried.
 */
export class AlertEventDto {
  @IsString()
  @IsNotEmpty()
  @Matches(/\S/, { message: 'message must not be blank' })
  @MaxLength(ALERT_LIMITS.messageMaxLength)
  message!: string;

  @IsOptional()
  @IsIn(SEVERITIES)
  severity?: Severity;

  @IsOptional()
  @IsString()
  @MaxLength(ALERT_LIMITS.sourceMaxLength)
  source?: string;

  @IsOptional()
  // A plain map: otherwise class-transformer takes a "constructor" key for a class and throws.
  @Type(() => Object)
  @Transform(({ value }) => parseJsonText(value))
  @IsLabels((event) => eventLabelLimits(event))
  labels?: Record<string, string>;

  /** When the API accepted the alert (ISO 8601); absent for other producers. */
  @IsOptional()
  @IsISO8601()
  receivedAt?: string;

  // The fields below come with alerts relayed from Alertmanager or Grafana (see AlertContent).

  @IsOptional()
  @IsIn(ALERT_STATUSES)
  alertStatus?: AlertStatus;

  @IsOptional()
  @IsISO8601()
  startsAt?: string;

  @IsOptional()
  @IsISO8601()
  endsAt?: string;

  @IsOptional()
  @IsString()
  @MaxLength(EVENT_LIMITS.fingerprintMaxLength)
  fingerprint?: string;

  @IsOptional()
  @IsString()
  @MaxLength(EVENT_LIMITS.urlMaxLength)
  generatorURL?: string;

  @IsOptional()
  @Type(() => Object)
  @Transform(({ value }) => parseJsonText(value))
  @IsLabels(EVENT_LIMITS.annotations)
  annotations?: Record<string, string>;
}
