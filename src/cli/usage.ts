import { CLI_DEFAULTS, CLI_NAME } from './cli.constants.js';
import type { HelpTopic } from './cli.errors.js';

const GENERAL = `Usage: ${CLI_NAME} <command> [options]

Operator commands for the alerts service. They read the service's environment (REDIS_URL,
REDIS_TLS_CA_FILE, ...), validated as the service does, and never consume or claim work.

Commands:
  status        Streams, consumer groups, consumers, lag, pending, oldest pending age, dead letters
  dlq list      Dead letters, newest first, with their reason
  dlq replay    Replay dead letters to their stream (idempotent)
  dlq delete    Delete dead letters for good
  publish       Publish an alert (or, with --json, an event to another handled stream)

Options of every command:
  --verbose     Print the service's logs on stderr (by default only errors)
  -h, --help    This text; "${CLI_NAME} <command> --help" for one command

Exit codes: 0 done, 1 failed (invalid configuration, Redis unreachable, ...), 2 usage error.
Run "npm run build" first; "npm run --silent cli -- <command>" keeps npm's banner out of stdout.`;

const STATUS = `Usage: ${CLI_NAME} status [--json]

The streams the service handles: length, dead-letter count, and each consumer group with its
consumers, lag (entries not yet delivered), pending entries and the age of the oldest one.

  --json        Print JSON ({ streams: [...] }) instead of tables`;

const DLQ_LIST = `Usage: ${CLI_NAME} dlq list [--stream ${CLI_DEFAULTS.stream}] [--limit N] [--cursor ID] [--group G] [--error TEXT] [--json]

Dead letters of a stream, newest first, with the reason each one failed. When there are more,
the last line gives the --cursor of the next page.

  --stream NAME   Stream whose dead letters to list (default ${CLI_DEFAULTS.stream})
  --limit N       How many, 1 to ${CLI_DEFAULTS.listMaxLimit} (default ${CLI_DEFAULTS.listLimit})
  --cursor ID     Continue after this dead-letter id (the previous page's next cursor)
  --group G       Only those dead-lettered by consumer group G
  --error TEXT    Only those whose reason contains TEXT (any case)
  --json          Print JSON ({ items, next }) instead of a table`;

const DLQ_REPLAY = `Usage: ${CLI_NAME} dlq replay [--stream ${CLI_DEFAULTS.stream}] (ID... | --all | --group G | --error TEXT) [--limit N] [--json]

Appends dead letters to their original stream again (without their dlq-* fields, same eventId)
and removes them from the dead letters, atomically: replaying an id twice appends it once, and
the second time lists it as missing. Every consumer group of the stream receives it again.

  ID...           Dead-letter ids, as "dlq list" shows them
  --all           Every dead letter of the stream (at most --limit)
  --group G       Those dead-lettered by consumer group G
  --error TEXT    Those whose reason contains TEXT (any case); combines with --group
  --limit N       With --all, --group or --error: at most N, the newest, replayed oldest first
                  (1 to ${CLI_DEFAULTS.replayMaxLimit}, default ${CLI_DEFAULTS.replayLimit})
  --stream NAME   Stream to replay to (default ${CLI_DEFAULTS.stream})
  --json          Print JSON ({ replayed: [{ deadLetterId, newId }], missing })`;

const DLQ_DELETE = `Usage: ${CLI_NAME} dlq delete [--stream ${CLI_DEFAULTS.stream}] ID... [--json]

Deletes dead letters for good. Ids that are not there are ignored.

  ID...           Dead-letter ids, as "dlq list" shows them
  --stream NAME   Stream whose dead letters to delete (default ${CLI_DEFAULTS.stream})
  --json          Print JSON ({ deleted, requested })`;

const DLQ = `Usage: ${CLI_NAME} dlq <list|replay|delete> [options]

${DLQ_LIST}

${DLQ_REPLAY}

${DLQ_DELETE}`;

const PUBLISH = `Usage: ${CLI_NAME} publish [--stream ${CLI_DEFAULTS.stream}] --message TEXT [--severity S] [--source S] [--label k=v ...] [--event-id ID]
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
  --stream NAME   A stream the service handles (default ${CLI_DEFAULTS.stream})`;

const TOPICS: Record<HelpTopic, string> = {
  status: STATUS,
  dlq: DLQ,
  'dlq list': DLQ_LIST,
  'dlq replay': DLQ_REPLAY,
  'dlq delete': DLQ_DELETE,
  publish: PUBLISH,
};

/** The help of one command, or of the whole CLI. */
export function usageText(topic?: HelpTopic): string {
  return topic ? `${TOPICS[topic]}\n\nRun "${CLI_NAME} --help" for every command.` : GENERAL;
}
