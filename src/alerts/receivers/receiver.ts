import type { ReceiverSettings } from '../../config/receivers-file.js';
import { ALERTS_STREAM } from '../alerts.constants.js';
import type { AlertContent } from '../alert-record.js';

/** A receiver as delivery sees it: its settings, and the consumer group that delivers to it. */
export interface Receiver extends ReceiverSettings {
  /** `alerts-<name>`: `alerts-webhook` for the receiver of ALERTS_WEBHOOK_URL. */
  group: string;
}

/**
 * The consumer group of a receiver on the alerts stream. The receiver ALERTS_WEBHOOK_URL makes is
 * named `webhook`, so its group is `alerts-webhook`, as before receivers existed: deployments keep
 * what that group has pending.
 */
export function receiverGroup(name: string): string {
  return `${ALERTS_STREAM}-${name}`;
}

export function toReceiver(settings: ReceiverSettings): Receiver {
  return { ...settings, group: receiverGroup(settings.name) };
}

/**
 * What matchers see of an alert: its labels, with `severity` and `source` set from the alert's
 * own fields (they win over labels of the same name). A missing label reads as the empty string,
 * as in Alertmanager, so `env!="dev"` takes an alert without `env`.
 */
export function matchedLabels(content: AlertContent): Record<string, string> {
  return {
    ...content.labels,
    severity: content.severity ?? '',
    source: content.source ?? '',
  };
}

/** Whether every matcher of the receiver takes the alert; a receiver without matchers takes all. */
export function takes(receiver: ReceiverSettings, content: AlertContent): boolean {
  const labels = matchedLabels(content);
  return receiver.matchers.every((matcher) => matcher.test(labels[matcher.name] ?? ''));
}

/**
 * `text` with every secret of the receiver (URL, header values, routing key) replaced by `***`:
 * what the delivery writes into records, dead letters and logs goes through this first.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let redacted = text;
  for (const secret of secrets) redacted = redacted.replaceAll(secret, '***');
  return redacted;
}
