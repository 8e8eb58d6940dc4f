import { Redis } from 'ioredis';
import { FIELD } from '@redis-streams-alerts/nestjs-redis-streams';

/**
 * The least a webhook delivery loop can do, next to the service's webhook group: XREADGROUP
 * COUNT 100, POST each entry to the receiver with fetch (Node's undici, keep-alive), one after
 * the other, and one XACK per batch. Runs until TOTAL entries are delivered; started by the bench
 * with REDIS_URL, RECEIVER_URL and TOTAL on a stream it filled.
 */
const STREAM = 'alerts';
const GROUP = 'bare-webhook';

type Entry = [id: string, fields: string[]];

async function main(): Promise<void> {
  const redis = new Redis(process.env.REDIS_URL ?? '');
  const url = process.env.RECEIVER_URL ?? '';
  const total = Number(process.env.TOTAL);
  await redis.xgroup('CREATE', STREAM, GROUP, '0', 'MKSTREAM');
  let delivered = 0;
  while (delivered < total) {
    const reply = (await redis.xreadgroup(
      'GROUP',
      GROUP,
      'bare-1',
      'COUNT',
      100,
      'BLOCK',
      1_000,
      'STREAMS',
      STREAM,
      '>',
    )) as Array<[string, Entry[]]> | null;
    if (!reply) continue;
    const entries = reply[0][1];
    for (const [id, flat] of entries) await deliver(url, id, flat);
    await redis.xack(STREAM, GROUP, ...entries.map(([id]) => id));
    delivered += entries.length;
  }
  redis.disconnect();
}

/** The webhook body the service sends: the alert's fields, its eventId, entry id and time. */
async function deliver(url: string, id: string, flat: string[]): Promise<void> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]] = flat[i + 1];
  const eventId = fields[FIELD.eventId];
  const alert = JSON.parse(fields[FIELD.payload]) as Record<string, unknown>;
  const time = new Date(Number(fields[FIELD.publishedAt])).toISOString();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': eventId },
    body: JSON.stringify({ eventId, id, ...alert, time }),
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`the receiver answered ${response.status}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bare delivery loop failed: ${String(error)}\n`);
    process.exit(1);
  },
);
