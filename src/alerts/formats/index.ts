import {
  FORMAT_NAMES,
  type AlertFormat,
  type FormatName,
  type RenderedRequest,
} from './alert-format.js';
import { jsonFormat } from './json.js';
import type { OutgoingAlert } from './outgoing-alert.js';
import { pagerDutyFormat } from './pagerduty.js';
import type { Receiver } from './receiver.js';
import { slackFormat } from './slack.js';

/** Every format by its name. */
const FORMATS: Readonly<Record<FormatName, AlertFormat>> = {
  json: jsonFormat,
  slack: slackFormat,
  pagerduty: pagerDutyFormat,
};

/** Whether `name` is a format this service has (for the receivers file's validation). */
export function isFormatName(name: unknown): name is FormatName {
  return FORMAT_NAMES.some((known) => known === name);
}

/** The format called `name`. */
export function formatNamed(name: FormatName): AlertFormat {
  return FORMATS[name];
}

/** The request body and headers of `alert` for `receiver`, in the receiver's format. */
export function renderAlert(alert: OutgoingAlert, receiver: Receiver): RenderedRequest {
  return formatNamed(receiver.format).render(alert, receiver);
}

export { FORMAT_NAMES, RenderError } from './alert-format.js';
export type { AlertFormat, FormatName, RenderedRequest } from './alert-format.js';
export type { OutgoingAlert } from './outgoing-alert.js';
export type { Receiver } from './receiver.js';
export type { WebhookBody } from './json.js';
export type { SlackMessage } from './slack.js';
export type { PagerDutyEvent } from './pagerduty.js';
