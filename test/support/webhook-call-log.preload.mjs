// Loaded into a service process with NODE_OPTIONS=--import=<this file>: appends one line per HTTP
// request the process starts to WEBHOOK_CALL_LOG_ORIGIN (its webhook) to the file WEBHOOK_CALL_LOG.
// It sees the calls that never reach the receiver (connection refused), which the receiver cannot
// count. Node's fetch (undici) announces every request it creates on this diagnostics channel.
import { appendFileSync } from 'node:fs';
import { subscribe } from 'node:diagnostics_channel';

const file = process.env.WEBHOOK_CALL_LOG;
const origin = process.env.WEBHOOK_CALL_LOG_ORIGIN;
const consumer = process.env.CONSUMER_NAME ?? String(process.pid);

if (file && origin) {
  subscribe('undici:request:create', ({ request }) => {
    // One short line per write with O_APPEND: lines of several processes never interleave.
    if (request.origin === origin) appendFileSync(file, `${Date.now()} ${consumer}\n`);
  });
}
