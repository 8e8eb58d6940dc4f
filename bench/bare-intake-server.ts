import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { entryFields } from './streams.js';

/**
 * The least an HTTP intake can do: POST body in, one XADD, 202 out. The baseline next to the
 * service's POST /alerts. Started as a child process by the bench with PORT and REDIS_URL.
 */
const redis = new Redis(process.env.REDIS_URL ?? '');
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let payload: unknown;
    try {
      payload = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const eventId = randomUUID();
    redis.xadd('alerts', '*', ...entryFields(eventId, payload)).then(
      (id) => {
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id, eventId }));
      },
      () => res.writeHead(503).end(),
    );
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.({ type: 'listening' }));
process.on('SIGTERM', () => {
  server.close();
  redis.disconnect();
  process.exit(0);
});
