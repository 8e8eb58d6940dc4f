import {
  registerDecorator,
  type ValidationArguments,
  type ValidationOptions,
  ValidatorConstraint,
  type ValidatorConstraintInterface,
} from 'class-validator';
import { ALERT_LIMITS, LABEL_KEY_PATTERN } from './alerts.constants.js';

/** Keys that would reach an object's prototype when copied naively. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Why `value` is not a valid labels map (an object of string to string within the limits), or
 * undefined when it is.
 */
export function findLabelsProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'must be an object of string keys to string values';
  }
  const entries = Object.entries(value);
  if (entries.length > ALERT_LIMITS.labelsMaxKeys) {
    return `must have at most ${ALERT_LIMITS.labelsMaxKeys} keys, got ${entries.length}`;
  }
  for (const [key, item] of entries) {
    const shown = JSON.stringify(key.slice(0, ALERT_LIMITS.labelKeyMaxLength));
    if (key.length === 0 || key.length > ALERT_LIMITS.labelKeyMaxLength) {
      return `key ${shown} must be 1 to ${ALERT_LIMITS.labelKeyMaxLength} characters`;
    }
    if (!LABEL_KEY_PATTERN.test(key) || FORBIDDEN_KEYS.has(key)) {
      return `key ${shown} must use only letters, digits and _ . - (and not be a reserved name)`;
    }
    if (typeof item !== 'string') return `value of ${shown} must be a string`;
    if (item.length > ALERT_LIMITS.labelValueMaxLength) {
      return `value of ${shown} must be at most ${ALERT_LIMITS.labelValueMaxLength} characters`;
    }
  }
  return undefined;
}

@ValidatorConstraint({ name: 'isLabels' })
export class IsLabelsConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return findLabelsProblem(value) === undefined;
  }

  defaultMessage(args: ValidationArguments): string {
    return `${args.property} ${findLabelsProblem(args.value) ?? 'is invalid'}`;
  }
}

/** The property is a labels map: at most 20 keys of `[A-Za-z0-9_.-]{1,64}` to strings of at most 256 characters. */
export function IsLabels(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      target: target.constructor,
      propertyName: String(propertyName),
      options,
      validator: IsLabelsConstraint,
    });
}
