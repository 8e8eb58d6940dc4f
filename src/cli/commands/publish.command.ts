import { Injectable } from '@nestjs/common';
import { toAlertPayload } from '../../alerts/alert-content.js';
import { AlertIntake } from '../../alerts/alert-intake.js';
import { ALERTS_STREAM, EVENT_ID_PATTERN } from '../../alerts/alerts.constants.js';
import type { CreateAlertDto } from '../../alerts/create-alert.dto.js';
import { StreamPublisher } from '@redis-streams-alerts/nestjs-redis-streams';
import { toValidAlert } from '../alert-input.js';
import { STREAM, nonEmpty } from '../cli-options.js';
import { CLI_DEFAULTS, CLI_NAME } from '../cli.constants.js';
import { InvalidInputError, UsageError } from '../cli.errors.js';
import type { CommandDefinition } from './command-definition.interface.js';
import type { CommandOutput } from './command-output.interface.js';
import { defineCommand } from './define-command.js';

/** An alert checked like `POST /alerts`, or any JSON object for another stream. */
export type PublishPayload =
  { kind: 'alert'; alert: CreateAlertDto } | { kind: 'json'; value: Record<string, unknown> };

export interface PublishArgs {
  name: 'publish';
  stream: string;
  payload: PublishPayload;
  eventId?: string;
}

/** `publish`: one event, appended through the service's own publisher. */
@Injectable()
export class PublishCommand {
  constructor(
    private readonly publisher: StreamPublisher,
    private readonly intake: AlertIntake,
  ) {}

  async run(args: PublishArgs): Promise<CommandOutput> {
    const { payload } = args;
    // An alert goes through the intake with the payload POST /alerts builds, so handlers cannot
    // tell where it came from, and is recorded at once.
    const published =
      payload.kind === 'alert'
        ? await this.intake.accept(args.stream, toAlertPayload(payload.alert), {
            eventId: args.eventId,
          })
        : await this.publisher.publish(args.stream, payload.value, { eventId: args.eventId });
    const data = { id: published.id, eventId: published.eventId };
    return {
      data,
      text: JSON.stringify(data),
      notice: published.duplicate
        ? `eventId ${published.eventId} was already published: nothing new was appended.`
        : undefined,
    };
  }
}

export const publishCommand: CommandDefinition<PublishArgs> = defineCommand({
  name: 'publish',
  summary: 'Publish an alert (or, with --json, an event to another handled stream)',
  usage: `Usage: ${CLI_NAME} publish [--stream ${CLI_DEFAULTS.stream}] --message TEXT [--severity S] [--source S] [--label k=v ...] [--event-id ID]
       ${CLI_NAME} publish --stream NAME --json '{...}' [--event-id ID]

Publishes one event and prints {"id","eventId"} once Redis has it. An alert is checked as
POST /alerts checks it. Publishing an eventId again within the de-duplication window appends
nothing and prints the first one's ids.

  --message TEXT  What happened (1 to 2000 characters)
  --severity S    info, warning or critical (default critical)
  --source S      What raised it, e.g. a host name
  --label k=v     A label; repeat for several
  --event-id ID   The eventId (default: a new UUIDv7); makes retries safe
  --json '{...}'  The payload as a JSON object: required for other streams; on ${CLI_DEFAULTS.stream},
                  instead of the options above, checked the same way
  --stream NAME   A stream the service handles (default ${CLI_DEFAULTS.stream})`,
  options: {
    ...STREAM,
    message: { type: 'string' },
    severity: { type: 'string' },
    source: { type: 'string' },
    label: { type: 'string', multiple: true },
    'event-id': { type: 'string' },
    json: { type: 'string' },
  },
  positionals: false,
  read: ({ values }, topic) => {
    const stream = nonEmpty(values.stream, '--stream', topic);
    const eventId = values['event-id'];
    if (eventId !== undefined && !EVENT_ID_PATTERN.test(eventId)) {
      throw new InvalidInputError(
        '--event-id must be 1 to 200 printable ASCII characters without spaces',
        topic,
      );
    }
    const alertFields = {
      message: values.message,
      severity: values.severity,
      source: values.source,
      labels: values.label === undefined ? undefined : labelsOf(values.label),
    };
    const given = Object.entries(alertFields).filter(([, value]) => value !== undefined);
    if (values.json !== undefined) {
      if (given.length > 0) {
        throw new UsageError(
          '--json is the whole payload: leave out --message, --severity, --source and --label',
          topic,
        );
      }
      const value = jsonObject(values.json);
      const payload: PublishPayload =
        stream === ALERTS_STREAM
          ? { kind: 'alert', alert: toValidAlert(value) }
          : { kind: 'json', value };
      return { stream, payload, eventId };
    }
    if (stream !== ALERTS_STREAM) {
      throw new UsageError(
        `--message, --severity, --source and --label make an alert for ${ALERTS_STREAM}; give --json '{...}' for ${stream.slice(0, 200)}`,
        topic,
      );
    }
    if (values.message === undefined) {
      throw new UsageError(`Publishing an alert needs --message TEXT (or --json '{...}')`, topic);
    }
    const alert = toValidAlert(Object.fromEntries(given));
    return { stream, payload: { kind: 'alert', alert }, eventId };
  },
  runner: PublishCommand,
});

/** `k=v` pairs, split at the first `=`; the alert's own validation checks keys and values. */
function labelsOf(pairs: string[]): Record<string, string> {
  const entries = pairs.map((pair): [string, string] => {
    const at = pair.indexOf('=');
    if (at < 1) {
      throw new UsageError(`--label "${pair.slice(0, 80)}" must be key=value`, 'publish');
    }
    return [pair.slice(0, at), pair.slice(at + 1)];
  });
  const keys = new Set(entries.map(([key]) => key));
  if (keys.size < entries.length) throw new UsageError('--label names a key twice', 'publish');
  // fromEntries defines own properties: a "__proto__" key stays a key, which validation refuses.
  return Object.fromEntries(entries);
}

function jsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError(`--json is not valid JSON: ${(error as Error).message}`, 'publish');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInputError('--json must be a JSON object ({...})', 'publish');
  }
  return value as Record<string, unknown>;
}
