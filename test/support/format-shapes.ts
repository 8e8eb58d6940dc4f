/**
 * What real receivers require of the bodies they take, written from their documentation and not
 * from this service's renderers, so that a renderer that drifts is caught: Slack's incoming
 * webhooks (Block Kit), PagerDuty's Events API v2, and the service's own `json`. Each check lists
 * every problem it finds; an empty list means the body would be accepted.
 */

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isText = (value: unknown, max = Infinity): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= max;
const isIsoTime = (value: unknown): boolean =>
  typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value) && !Number.isNaN(Date.parse(value));

/** Slack: `text` and at most 50 blocks of known types within their text limits. */
export function slackProblems(body: unknown): string[] {
  const problems: string[] = [];
  if (!isObject(body)) return ['the body is not an object'];
  if (!isText(body.text, 40_000)) problems.push('text must be a non-empty string');
  const blocks = body.blocks;
  if (!Array.isArray(blocks) || blocks.length === 0 || blocks.length > 50) {
    return [...problems, 'blocks must be an array of 1 to 50 blocks'];
  }
  blocks.forEach((block: unknown, i) => {
    const at = `blocks[${i}]`;
    if (!isObject(block)) return problems.push(`${at} is not an object`);
    const textObject = (value: unknown, max: number, types: string[]): boolean =>
      isObject(value) && types.includes(value.type as string) && isText(value.text, max);
    switch (block.type) {
      case 'header':
        if (!textObject(block.text, 150, ['plain_text'])) {
          problems.push(`${at}: a header needs plain_text of 1 to 150 characters`);
        }
        break;
      case 'section': {
        const hasText = block.text !== undefined;
        const hasFields = block.fields !== undefined;
        if (!hasText && !hasFields) problems.push(`${at}: a section needs text or fields`);
        if (hasText && !textObject(block.text, 3_000, ['mrkdwn', 'plain_text'])) {
          problems.push(`${at}: section text must be 1 to 3000 characters`);
        }
        if (hasFields) {
          const fields = block.fields;
          if (!Array.isArray(fields) || fields.length === 0 || fields.length > 10) {
            problems.push(`${at}: fields must be 1 to 10 text objects`);
          } else if (!fields.every((field) => textObject(field, 2_000, ['mrkdwn', 'plain_text']))) {
            problems.push(`${at}: each field must be 1 to 2000 characters`);
          }
        }
        break;
      }
      case 'context': {
        const elements = block.elements;
        if (!Array.isArray(elements) || elements.length === 0 || elements.length > 10) {
          problems.push(`${at}: a context needs 1 to 10 elements`);
        } else if (
          !elements.every((element) => textObject(element, 3_000, ['mrkdwn', 'plain_text']))
        ) {
          problems.push(`${at}: context elements must be text objects`);
        }
        break;
      }
      case 'divider':
        break;
      default:
        problems.push(`${at}: unknown block type ${JSON.stringify(block.type)}`);
    }
    return undefined;
  });
  return problems;
}

const PAGERDUTY_ACTIONS = ['trigger', 'acknowledge', 'resolve'];
const PAGERDUTY_SEVERITIES = ['critical', 'error', 'warning', 'info'];

/** PagerDuty Events API v2: routing key, action, dedup key, and a payload for a trigger. */
export function pagerDutyProblems(body: unknown): string[] {
  const problems: string[] = [];
  if (!isObject(body)) return ['the body is not an object'];
  if (typeof body.routing_key !== 'string' || body.routing_key.length !== 32) {
    problems.push('routing_key must be the 32-character integration key');
  }
  if (!PAGERDUTY_ACTIONS.includes(body.event_action as string)) {
    problems.push(`event_action must be one of ${PAGERDUTY_ACTIONS.join(', ')}`);
  }
  if (body.dedup_key !== undefined && !isText(body.dedup_key, 255)) {
    problems.push('dedup_key must be 1 to 255 characters');
  }
  if (body.event_action !== 'trigger' && body.dedup_key === undefined) {
    problems.push(`a ${String(body.event_action)} needs the dedup_key of its trigger`);
  }
  if (body.event_action === 'trigger') {
    const payload = body.payload;
    if (!isObject(payload)) {
      problems.push('a trigger needs a payload');
    } else {
      if (!isText(payload.summary, 1_024))
        problems.push('payload.summary must be 1 to 1024 characters');
      if (!isText(payload.source)) problems.push('payload.source is required');
      if (!PAGERDUTY_SEVERITIES.includes(payload.severity as string)) {
        problems.push(`payload.severity must be one of ${PAGERDUTY_SEVERITIES.join(', ')}`);
      }
      if (payload.timestamp !== undefined && !isIsoTime(payload.timestamp)) {
        problems.push('payload.timestamp must be an ISO 8601 time');
      }
      for (const name of ['component', 'group', 'class']) {
        if (payload[name] !== undefined && typeof payload[name] !== 'string') {
          problems.push(`payload.${name} must be a string`);
        }
      }
      if (payload.custom_details !== undefined && !isObject(payload.custom_details)) {
        problems.push('payload.custom_details must be an object');
      }
    }
  }
  if (body.links !== undefined) {
    const links = body.links;
    if (
      !Array.isArray(links) ||
      !links.every(
        (link) =>
          isObject(link) &&
          isText(link.href) &&
          (link.text === undefined || typeof link.text === 'string'),
      )
    ) {
      problems.push('links must be objects with an href');
    }
  }
  return problems;
}

const SEVERITIES = ['info', 'warning', 'critical'];

/** The service's `json` body: eventId and entry id, and the content fields with their types. */
export function jsonProblems(body: unknown): string[] {
  const problems: string[] = [];
  if (!isObject(body)) return ['the body is not an object'];
  if (!isText(body.eventId)) problems.push('eventId is required');
  if (typeof body.id !== 'string' || !/^\d+-\d+$/.test(body.id))
    problems.push('id must be an entry id');
  if (body.message !== undefined && !isText(body.message))
    problems.push('message must be a string');
  if (body.severity !== undefined && !SEVERITIES.includes(body.severity as string)) {
    problems.push(`severity must be one of ${SEVERITIES.join(', ')}`);
  }
  for (const name of ['time', 'startsAt', 'endsAt']) {
    if (body[name] !== undefined && !isIsoTime(body[name]))
      problems.push(`${name} must be an ISO 8601 time`);
  }
  if (
    body.alertStatus !== undefined &&
    !['firing', 'resolved'].includes(body.alertStatus as string)
  ) {
    problems.push('alertStatus must be firing or resolved');
  }
  for (const name of ['labels', 'annotations']) {
    const map = body[name];
    if (
      map !== undefined &&
      (!isObject(map) || !Object.values(map).every((v) => typeof v === 'string'))
    ) {
      problems.push(`${name} must map strings to strings`);
    }
  }
  return problems;
}

/** The check of each format, by the format's name. */
export const SHAPE_CHECKS: Readonly<Record<string, (body: unknown) => string[]>> = {
  json: jsonProblems,
  slack: slackProblems,
  pagerduty: pagerDutyProblems,
};
