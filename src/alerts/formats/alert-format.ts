import type { OutgoingAlert } from './outgoing-alert.js';
import type { Receiver } from './receiver.js';

/** The formats a receiver can ask for. */
export const FORMAT_NAMES = ['json', 'slack', 'pagerduty'] as const;
export type FormatName = (typeof FORMAT_NAMES)[number];

/** The HTTP request a format makes of an alert: its body and the headers that describe it. */
export interface RenderedRequest {
  body: string;
  /** Lower-case names; the delivery adds its own (idempotency key, credentials). */
  headers: Record<string, string>;
}

/** One way of writing an alert for a kind of receiver. Rendering is pure: no I/O, no clock. */
export interface AlertFormat {
  name: FormatName;
  /** Secrets the receiver must have for this format (checked when the receivers are loaded). */
  requiredSecrets: readonly string[];
  /** Throws RenderError when the receiver lacks what the format needs. */
  render(alert: OutgoingAlert, receiver: Receiver): RenderedRequest;
}

/** The alert cannot be rendered for this receiver (a missing secret): retrying will not help. */
export class RenderError extends Error {
  override readonly name = 'RenderError';
}

export const JSON_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json',
};
