import type { EnvironmentVariables } from './env.validation.js';
import {
  readReceiversFile,
  type ReceiverSettings,
  type ReceiversFileResult,
} from './receivers-file.js';

/** The receiver that ALERTS_WEBHOOK_URL alone makes; its group, `alerts-webhook`, predates receivers. */
export const WEBHOOK_RECEIVER_NAME = 'webhook';

/** Each environment's file read once: validation reads it, the `alerts` namespace takes the result. */
const read = new WeakMap<EnvironmentVariables, ReceiversFileResult>();

/**
 * Reads ALERTS_RECEIVERS_FILE, when set, with `variables` (the raw environment) for its `${NAME}`
 * references, and keeps the result with `env`. Returns the problems found, for validation to list.
 */
export function loadReceiversFile(
  env: EnvironmentVariables,
  variables: Record<string, unknown>,
): string[] {
  if (env.ALERTS_RECEIVERS_FILE === undefined) return [];
  const result = readReceiversFile(env.ALERTS_RECEIVERS_FILE, {
    timeoutMs: env.ALERTS_WEBHOOK_TIMEOUT_MS,
    maxAgeMs: env.ALERTS_DELIVERY_MAX_AGE_MS,
    variables,
  });
  read.set(env, result);
  return result.problems;
}

/**
 * Where alerts go: the receivers of ALERTS_RECEIVERS_FILE, or else the one receiver `webhook`
 * that ALERTS_WEBHOOK_URL describes (without a URL, it logs alerts), which takes every alert.
 */
export function receiversOf(env: EnvironmentVariables): ReceiverSettings[] {
  if (env.ALERTS_RECEIVERS_FILE === undefined) return [webhookReceiver(env)];
  if (!read.has(env)) loadReceiversFile(env, env as unknown as Record<string, unknown>);
  return read.get(env)!.receivers;
}

function webhookReceiver(env: EnvironmentVariables): ReceiverSettings {
  const url = env.ALERTS_WEBHOOK_URL;
  return {
    name: WEBHOOK_RECEIVER_NAME,
    url,
    headers: {},
    format: 'json',
    matchers: [],
    rateLimit: env.ALERTS_WEBHOOK_RATE_LIMIT,
    maxAgeMs: env.ALERTS_DELIVERY_MAX_AGE_MS,
    timeoutMs: env.ALERTS_WEBHOOK_TIMEOUT_MS,
    secretValues: url ? [url] : [],
  };
}
