import { truncate } from '../../common/truncate.js';
import type { Severity } from '../alerts.constants.js';
import { JSON_HEADERS, type AlertFormat, type RenderedRequest } from './alert-format.js';
import { httpUrl, statusOf, type OutgoingAlert } from './outgoing-alert.js';

/** Slack's limits on Block Kit elements: a longer text makes Slack refuse the whole message. */
const SLACK_LIMITS = {
  headerText: 150,
  sectionText: 3_000,
  fieldText: 2_000,
  contextElements: 10,
} as const;

const SEVERITY_EMOJI: Record<Severity, string> = {
  critical: ':red_circle:',
  warning: ':large_orange_circle:',
  info: ':large_blue_circle:',
};
const RESOLVED_EMOJI = ':white_check_mark:';

/** The Block Kit blocks this format writes. */
type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string; emoji: boolean } }
  | { type: 'section'; text: { type: 'mrkdwn'; text: string } }
  | { type: 'section'; fields: Array<{ type: 'mrkdwn'; text: string }> }
  | { type: 'context'; elements: Array<{ type: 'mrkdwn'; text: string }> };

/** The body of a Slack incoming-webhook call. */
export interface SlackMessage {
  /** The notification text, and what clients without blocks show. */
  text: string;
  blocks: SlackBlock[];
}

/**
 * A Slack incoming-webhook message: a one-line `text` (what the notification shows), and blocks
 * with the status and message as header, the description, severity, source and times as fields,
 * the labels, and links to the source and the runbook.
 */
export const slackFormat: AlertFormat = {
  name: 'slack',
  requiredSecrets: [],
  render(alert: OutgoingAlert): RenderedRequest {
    return { body: JSON.stringify(slackMessage(alert)), headers: { ...JSON_HEADERS } };
  },
};

function slackMessage(alert: OutgoingAlert): SlackMessage {
  const status = statusOf(alert);
  const severity = alert.severity ?? 'critical';
  const emoji = status === 'resolved' ? RESOLVED_EMOJI : SEVERITY_EMOJI[severity];
  const title = `${status.toUpperCase()}: ${alert.message ?? `alert ${alert.eventId}`}`;
  const blocks: SlackBlock[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: truncate(title, SLACK_LIMITS.headerText), emoji: true },
    },
  ];
  const description = alert.annotations?.description;
  if (description && description !== alert.message) {
    blocks.push(section(escape(description)));
  }
  blocks.push({ type: 'section', fields: fields(alert, severity) });
  const labels = Object.entries(alert.labels ?? {});
  if (labels.length > 0) {
    blocks.push(
      section(labels.map(([key, value]) => `\`${escape(`${key}=${value}`)}\``).join(' ')),
    );
  }
  blocks.push({ type: 'context', elements: context(alert) });
  return {
    text: within(`${emoji} ${escape(title)} (${severity})`, SLACK_LIMITS.sectionText),
    blocks,
  };
}

function fields(alert: OutgoingAlert, severity: Severity): Array<{ type: 'mrkdwn'; text: string }> {
  const shown: Array<[string, string | undefined]> = [
    ['Severity', severity],
    ['Source', alert.source],
    ['Started', alert.startsAt],
    ['Ended', alert.endsAt],
  ];
  return shown
    .filter((field): field is [string, string] => field[1] !== undefined && field[1] !== '')
    .map(([name, value]) => ({
      type: 'mrkdwn',
      text: within(`*${name}*\n${escape(value)}`, SLACK_LIMITS.fieldText),
    }));
}

function context(alert: OutgoingAlert): Array<{ type: 'mrkdwn'; text: string }> {
  const elements = [{ type: 'mrkdwn' as const, text: `eventId \`${escape(alert.eventId)}\`` }];
  const links: Array<[string, string | undefined]> = [
    ['Source', alert.generatorURL],
    ['Runbook', alert.annotations?.runbook_url],
  ];
  for (const [text, url] of links) {
    const href = httpUrl(url);
    if (href) elements.push({ type: 'mrkdwn', text: `<${escape(href)}|${text}>` });
  }
  return elements.slice(0, SLACK_LIMITS.contextElements);
}

function section(text: string): SlackBlock {
  return {
    type: 'section',
    text: { type: 'mrkdwn', text: within(text, SLACK_LIMITS.sectionText) },
  };
}

/**
 * Slack reads `&`, `<` and `>` as markup (`<!channel>` would notify everyone): alert text is
 * escaped, as Slack asks, so that it shows as written.
 */
function escape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** Escaped text cut to `max`, without leaving half an entity (`&am…`) at the cut. */
function within(escaped: string, max: number): string {
  return truncate(escaped, max).replace(/&[a-z]*…$/, '…');
}
