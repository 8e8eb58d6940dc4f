// A webhook receiver in a process of its own, as the flow-control acceptance tests need one: the
// test runner's event loop, busy posting a storm, must not be what paces the answers. Plain
// JavaScript because Node runs it directly (jest's TypeScript compiler exists only in the runner).
//
// It serves the webhook on one port and a control API on another, so that the test can still talk
// to it while the webhook port is closed. It prints `{"hookPort":…,"controlPort":…}` as its first
// line, and exits when its stdin closes (the test runner went away).
//
// Control API (JSON):
//   PUT /mode        {"mode":"healthy"}
//                    {"mode":"rate-limited","perSecond":5,"burst":5,"retryAfterSeconds":1}
//                    {"mode":"down"}                      webhook port closed: connection refused
//                    {"mode":"failing","status":500}
//                    {"mode":"poison","eventIds":["…"],"messageIncludes":"…","status":500}
//                    each may add "latencyMs": a delay before every answer.
//   GET  /mode       the mode now
//   GET  /calls?from=N   the calls from the N-th on: {"calls":[{at,key,entryId,message,status,mode}]}
import { createServer } from 'node:http';

/** Every call in arrival order; a call counts once its body has arrived. */
const calls = [];
let mode = { mode: 'healthy' };
/** The rate limiter's token bucket, reset by each change of mode. */
const bucket = { tokens: 0, at: Date.now() };

const hook = createServer((req, res) => {
  readBody(req, (body) => {
    let parsed = {};
    try {
      parsed = JSON.parse(body);
    } catch {
      // Not JSON: the Idempotency-Key alone identifies the alert.
    }
    const call = {
      at: Date.now(),
      key: String(req.headers['idempotency-key'] ?? ''),
      entryId: String(parsed.id ?? ''),
      message: String(parsed.message ?? ''),
      status: 0,
      mode: mode.mode,
    };
    calls.push(call);
    const { status, headers } = answer(call);
    call.status = status;
    const send = () => {
      if (res.destroyed) return;
      res.writeHead(status, headers);
      res.end();
    };
    if (mode.latencyMs) setTimeout(send, mode.latencyMs);
    else send();
  });
});
let hookPort = 0;

/** What the webhook answers to `call` in the current mode. */
function answer(call) {
  switch (mode.mode) {
    case 'rate-limited':
      return takeToken()
        ? { status: 202 }
        : { status: 429, headers: { 'retry-after': String(mode.retryAfterSeconds ?? 1) } };
    case 'failing':
      return { status: mode.status ?? 500 };
    case 'poison': {
      const byId = (mode.eventIds ?? []).includes(call.key);
      const byText = mode.messageIncludes ? call.message.includes(mode.messageIncludes) : false;
      return { status: byId || byText ? (mode.status ?? 500) : 202 };
    }
    default:
      return { status: 202 };
  }
}

/** A token bucket of `burst` tokens (default `perSecond`), refilled at `perSecond`. */
function takeToken() {
  const size = mode.burst ?? mode.perSecond;
  const now = Date.now();
  bucket.tokens = Math.min(size, bucket.tokens + ((now - bucket.at) * mode.perSecond) / 1_000);
  bucket.at = now;
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

async function setMode(next) {
  if (next.mode === 'down' && hook.listening) {
    // Kept-alive connections too: a caller must find the port closed, not an old socket open.
    hook.closeAllConnections();
    await new Promise((resolve) => hook.close(() => resolve()));
  }
  if (next.mode !== 'down' && !hook.listening) await listen(hook, hookPort);
  mode = next;
  bucket.tokens = next.burst ?? next.perSecond ?? 0;
  bucket.at = Date.now();
}

const control = createServer((req, res) => {
  readBody(req, (body) => {
    const url = new URL(req.url ?? '/', 'http://control');
    const reply = (status, value) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (req.method === 'GET' && url.pathname === '/calls') {
      reply(200, { calls: calls.slice(Number(url.searchParams.get('from') ?? 0)) });
    } else if (req.method === 'GET' && url.pathname === '/mode') {
      reply(200, mode);
    } else if (req.method === 'PUT' && url.pathname === '/mode') {
      setMode(JSON.parse(body)).then(
        () => reply(200, mode),
        (error) => reply(500, { error: String(error) }),
      );
    } else {
      reply(404, { error: `no ${req.method} ${url.pathname}` });
    }
  });
});

function readBody(req, then) {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => then(Buffer.concat(chunks).toString('utf8')));
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

hookPort = await listen(hook, Number(process.env.HOOK_PORT ?? 0));
const controlPort = await listen(control, 0);
process.stdout.write(`${JSON.stringify({ hookPort, controlPort })}\n`);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
