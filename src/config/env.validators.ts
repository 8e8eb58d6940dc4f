import { statSync } from 'node:fs';
import { ValidateBy, type ValidationArguments } from 'class-validator';
import { parseHostPortList } from './host-port-list.js';

/** A whole number in `[min, max]`, `max` open when omitted; NaN (a non-numeric string) fails. */
export function IsIntegerInRange(min: number, max?: number): PropertyDecorator {
  return ValidateBy({
    name: 'isIntegerInRange',
    constraints: [min, max],
    validator: {
      validate: (value: unknown) =>
        typeof value === 'number' &&
        Number.isInteger(value) &&
        value >= min &&
        (max === undefined || value <= max),
      defaultMessage: () =>
        max === undefined
          ? `must be a whole number of at least ${min}`
          : `must be a whole number from ${min} to ${max}`,
    },
  });
}

/** A number above 0 and at most `max`, fractions allowed (a rate such as 0.5 per second). */
export function IsPositiveNumber(max: number, unit: string): PropertyDecorator {
  return ValidateBy({
    name: 'isPositiveNumber',
    constraints: [max],
    validator: {
      validate: (value: unknown) =>
        typeof value === 'number' && Number.isFinite(value) && value > 0 && value <= max,
      defaultMessage: () =>
        `must be a number of ${unit} above 0 and at most ${max}, such as 5 or 0.5`,
    },
  });
}

/**
 * 0 (the feature is off), or a whole number of at least `min`: a small non-zero value is most
 * likely a value in the wrong unit, such as days for milliseconds.
 */
export function IsZeroOrAtLeast(min: number, meaningOfZero: string): PropertyDecorator {
  return ValidateBy({
    name: 'isZeroOrAtLeast',
    constraints: [min],
    validator: {
      validate: (value: unknown) =>
        typeof value === 'number' && Number.isInteger(value) && (value === 0 || value >= min),
      defaultMessage: () => `must be 0 (${meaningOfZero}) or a whole number of at least ${min}`,
    },
  });
}

/**
 * A URL with one of `schemes` (without the colon) and a host. The message names the scheme it
 * got, never the URL itself: it may carry a password or a token.
 */
export function IsUrlWithScheme(schemes: readonly string[], example: string): PropertyDecorator {
  const allowed = schemes.map((scheme) => `${scheme}:`);
  const parse = (value: unknown): URL | undefined => {
    if (typeof value !== 'string') return undefined;
    try {
      return new URL(value);
    } catch {
      return undefined;
    }
  };
  return ValidateBy({
    name: 'isUrlWithScheme',
    constraints: [schemes],
    validator: {
      validate: (value: unknown) => {
        const url = parse(value);
        return url !== undefined && allowed.includes(url.protocol) && url.hostname !== '';
      },
      defaultMessage: (args?: ValidationArguments) => {
        const url = parse(args?.value);
        const wanted = `must be a ${schemes.map((s) => `${s}://`).join(' or ')} URL such as ${example}`;
        if (!url) return `${wanted} (it is not a URL)`;
        if (!allowed.includes(url.protocol)) return `${wanted} (its scheme is ${url.protocol}//)`;
        return `${wanted} (it has no host)`;
      },
    },
  });
}

/** A path to an existing regular file. */
export function IsExistingFile(): PropertyDecorator {
  return ValidateBy({
    name: 'isExistingFile',
    validator: {
      validate: (value: unknown) => {
        if (typeof value !== 'string') return false;
        try {
          return statSync(value).isFile();
        } catch {
          return false;
        }
      },
      defaultMessage: (args?: ValidationArguments) =>
        `must be the path of an existing file (${String(args?.value)} was not found or is not a file)`,
    },
  });
}

/** A rule that depends on the other variables, e.g. "at least RETRY_BACKOFF_BASE_MS". */
export function Satisfies<T extends object>(
  name: string,
  rule: (value: unknown, env: T) => boolean,
  message: (env: T) => string,
): PropertyDecorator {
  return ValidateBy({
    name,
    validator: {
      validate: (value: unknown, args?: ValidationArguments) => rule(value, args?.object as T),
      defaultMessage: (args?: ValidationArguments) => message(args?.object as T),
    },
  });
}

/**
 * A comma-separated list of `host:port` (see `parseHostPortList`). `whenMissing` is the message
 * for an unset value, for lists that are required in some mode.
 */
export function IsHostPortList(example: string, whenMissing: string): PropertyDecorator {
  const wanted = `must be a comma-separated list of host:port such as ${example}`;
  return ValidateBy({
    name: 'isHostPortList',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'string' && Array.isArray(parseHostPortList(value)),
      defaultMessage: (args?: ValidationArguments) => {
        const value: unknown = args?.value;
        if (value === undefined) return `${whenMissing}: ${wanted.replace(/^must be /, '')}`;
        if (typeof value !== 'string') return wanted;
        const parsed = parseHostPortList(value);
        return Array.isArray(parsed) ? wanted : `${wanted} (${parsed.problem})`;
      },
    },
  });
}
