import { createServer } from 'node:http';
import { monotonicMs } from './stats.js';

/** Messages between the bench and a receiver process. */
export type ReceiverMessage =
  | { type: 'listening'; port: number }
  /** Bench to receiver: report the time of the request that makes each of these counts. */
  | { type: 'watch'; counts: number[] }
  /** Receiver to bench: the `count`th request since start arrived at `atMs` (monotonic clock). */
  | { type: 'mark'; count: number; atMs: number };

/**
 * The trivial webhook receiver of the intake and delivery sections, in a process of its own so
 * that it takes no CPU from the bench's event loop: reads each request's body, answers 200 with
 * none, keeps connections alive, and counts.
 */
let count = 0;
let watched: number[] = [];
const send = (message: ReceiverMessage) => process.send?.(message);

/** Reports the watched counts reached so far. */
function reportMarks(): void {
  if (watched.length === 0 || count < watched[0]) return;
  const atMs = monotonicMs();
  while (watched.length > 0 && count >= watched[0]) {
    send({ type: 'mark', count: watched.shift()!, atMs });
  }
}

const server = createServer((req, res) => {
  req.on('data', () => undefined);
  req.on('end', () => {
    count++;
    res.writeHead(200, { 'content-length': '0' });
    res.end();
    reportMarks();
  });
});
// A receiver that holds idle connections open as long as the client does.
server.keepAliveTimeout = 60_000;

process.on('message', (message: ReceiverMessage) => {
  if (message.type !== 'watch') return;
  watched = [...message.counts].sort((a, b) => a - b);
  reportMarks();
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') send({ type: 'listening', port: address.port });
});
process.on('SIGTERM', () => process.exit(0));
