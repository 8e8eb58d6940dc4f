import {
  registerDecorator,
  type ValidationArguments,
  type ValidationOptions,
  ValidatorConstraint,
  type ValidatorConstraintInterface,
} from 'class-validator';
import {
  ALERT_LIMITS,
  EVENT_LIMITS,
  LABEL_KEY_PATTERN,
  type StringMapLimits,
} from './alerts.constants.js';

/** Keys that would reach an object's prototype when copied naively. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** The labels POST /alerts accepts. */
export const API_LABEL_LIMITS: StringMapLimits = {
  maxKeys: ALERT_LIMITS.labelsMaxKeys,
  keyMaxLength: ALERT_LIMITS.labelKeyMaxLength,
  valueMaxLength: ALERT_LIMITS.labelValueMaxLength,
};

/**
 * The label limits of an alert event on the stream: Alertmanager's label sets are larger, so an
 * alert relayed from it (it says whether it fires or resolved) has EVENT_LIMITS; any other entry
 * is held to what POST /alerts takes, as it always was.
 */
export function eventLabelLimits(event: { alertStatus?: unknown }): StringMapLimits {
  return event.alertStatus === undefined ? API_LABEL_LIMITS : EVENT_LIMITS.labels;
}

/** Limits, or how to find them from the object validated. */
type LimitsRule = StringMapLimits | ((object: object) => StringMapLimits);

/**
 * Why `value` is not a valid labels map (an object of string to string within `limits`), or
 * undefined when it is. Annotations follow the same rules with their own limits.
 */
export function findLabelsProblem(
  value: unknown,
  limits: StringMapLimits = API_LABEL_LIMITS,
): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'must be an object of string keys to string values';
  }
  const entries = Object.entries(value);
  if (entries.length > limits.maxKeys) {
    return `must have at most ${limits.maxKeys} keys, got ${entries.length}`;
  }
  for (const [key, item] of entries) {
    const shown = JSON.stringify(key.slice(0, limits.keyMaxLength));
    if (key.length === 0 || key.length > limits.keyMaxLength) {
      return `key ${shown} must be 1 to ${limits.keyMaxLength} characters`;
    }
    if (!LABEL_KEY_PATTERN.test(key) || FORBIDDEN_KEYS.has(key)) {
      return `key ${shown} must use only letters, digits and _ . - (and not be a reserved name)`;
    }
    if (typeof item !== 'string') return `value of ${shown} must be a string`;
    if (item.length > limits.valueMaxLength) {
      return `value of ${shown} must be at most ${limits.valueMaxLength} characters`;
    }
  }
  return undefined;
}

@ValidatorConstraint({ name: 'isLabels' })
export class IsLabelsConstraint implements ValidatorConstraintInterface {
  validate(value: unknown, args?: ValidationArguments): boolean {
    return findLabelsProblem(value, limitsOf(args)) === undefined;
  }

  defaultMessage(args: ValidationArguments): string {
    return `${args.property} ${findLabelsProblem(args.value, limitsOf(args)) ?? 'is invalid'}`;
  }
}

function limitsOf(args: ValidationArguments | undefined): StringMapLimits {
  const rule = args?.constraints?.[0] as LimitsRule | undefined;
  if (typeof rule === 'function') return rule(args!.object);
  return rule ?? API_LABEL_LIMITS;
}

/**
 * The property is a labels map: by default at most 20 keys of `[A-Za-z0-9_.-]{1,64}` to strings
 * of at most 256 characters, as POST /alerts takes them; `limits` sets other numbers, or picks
 * them from the object validated.
 */
export function IsLabels(
  limits: LimitsRule = API_LABEL_LIMITS,
  options?: ValidationOptions,
): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      target: target.constructor,
      propertyName: String(propertyName),
      options,
      constraints: [limits],
      validator: IsLabelsConstraint,
    });
}
