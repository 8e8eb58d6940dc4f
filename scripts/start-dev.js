// `npm start`: runs dist/main.js for local development, with a local Redis when none is given.
//
// - Reads .env when there is one (dist/main.js itself reads only the environment).
// - REDIS_URL set, or something answers PING on 127.0.0.1:6379: runs dist/main.js as it is.
// - Otherwise starts `redis-server` on 127.0.0.1:6379 with its data in ./data/redis, runs
//   dist/main.js against it, and stops it once the app has exited.
// SIGTERM/SIGINT are passed on to the app, which shuts down gracefully; this script exits with the
// app's exit code.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { constants } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MAIN_JS = join(ROOT, 'dist', 'main.js');
const ENV_FILE = join(ROOT, '.env');
const REDIS_HOST = '127.0.0.1';
const REDIS_PORT = 6379;
const REDIS_DATA_DIR = join(ROOT, 'data', 'redis');
const PING_TIMEOUT_MS = 500;
const REDIS_START_TIMEOUT_MS = 10_000;
const REDIS_STOP_TIMEOUT_MS = 10_000;

/** The children this script started, so that a signal at any moment reaches the right one. */
const children = { redis: undefined, app: undefined };

const say = (message) => process.stdout.write(`[start-dev] ${message}\n`);
const complain = (message) => process.stderr.write(`[start-dev] ${message}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** True when something on host:port answers a PING in the Redis protocol (even with an error). */
function answersPing(host, port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (answered) => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(PING_TIMEOUT_MS, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    // +PONG, or -NOAUTH when a password is required: either way a Redis answers there.
    socket.once('data', (data) => done(/^[+-]/.test(data.toString())));
  });
}

/** Resolves with the exit of `child`, or with undefined if it has not exited after `ms`. */
function exitWithin(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child);
  return Promise.race([
    new Promise((resolve) => child.once('exit', () => resolve(child))),
    sleep(ms).then(() => undefined),
  ]);
}

function redisServerMissing() {
  complain('No Redis to use: REDIS_URL is not set, nothing answers on 127.0.0.1:6379,');
  complain('and redis-server is not installed. Either:');
  complain('  - install Redis, e.g. `sudo apt-get install redis-server` (Debian/Ubuntu)');
  complain('    or `brew install redis` (macOS), then run `npm start` again; or');
  complain('  - set REDIS_URL to a Redis you have, e.g. REDIS_URL=redis://host:6379 npm start');
  process.exit(1);
}

/** Starts redis-server on 127.0.0.1:6379 and waits until it answers; exits 1 if it cannot. */
async function startLocalRedis() {
  mkdirSync(REDIS_DATA_DIR, { recursive: true });
  const args = [
    '--port',
    String(REDIS_PORT),
    '--bind',
    REDIS_HOST,
    '--appendonly',
    'yes',
    '--dir',
    REDIS_DATA_DIR,
  ];
  // Its own process group: a Ctrl+C in the terminal must not stop Redis before the app has
  // drained; this script stops it after the app has exited.
  const redis = spawn('redis-server', args, {
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  });
  const spawnError = await new Promise((resolve) => {
    redis.once('spawn', () => resolve(undefined));
    redis.once('error', (error) => resolve(error));
  });
  if (spawnError) {
    if (spawnError.code === 'ENOENT') redisServerMissing();
    complain(`Could not start redis-server: ${spawnError.message}`);
    process.exit(1);
  }
  redis.on('error', (error) => complain(`redis-server: ${error.message}`));
  children.redis = redis;
  const deadline = Date.now() + REDIS_START_TIMEOUT_MS;
  while (!(await answersPing(REDIS_HOST, REDIS_PORT))) {
    if (redis.exitCode !== null || redis.signalCode !== null || Date.now() > deadline) {
      await stopLocalRedis(redis);
      complain(`redis-server did not start on ${REDIS_HOST}:${REDIS_PORT} (see its output above)`);
      process.exit(1);
    }
    await sleep(50);
  }
  say(
    `Started a local redis-server (pid ${redis.pid}) on ${REDIS_HOST}:${REDIS_PORT} with its data ` +
      `in ./${relative(ROOT, REDIS_DATA_DIR)}; it stops when the app stops. ` +
      'Set REDIS_URL to use another Redis.',
  );
  return redis;
}

async function stopLocalRedis(redis) {
  if (redis.exitCode !== null || redis.signalCode !== null) return;
  say('Stopping the local redis-server');
  redis.kill('SIGTERM');
  if (!(await exitWithin(redis, REDIS_STOP_TIMEOUT_MS))) {
    complain('redis-server did not stop in time: killing it');
    redis.kill('SIGKILL');
    await exitWithin(redis, REDIS_STOP_TIMEOUT_MS);
  }
}

/** Runs dist/main.js with `env` and resolves with its exit code; signals are passed on to it. */
function runMain(env) {
  // Its own process group, so that a Ctrl+C reaches it once (through us), not twice: main.ts
  // treats a second signal as "exit now without draining".
  const app = spawn(process.execPath, [MAIN_JS], { env, stdio: 'inherit', detached: true });
  children.app = app;
  return new Promise((resolve) => {
    app.once('error', (error) => {
      complain(`Could not start ${MAIN_JS}: ${error.message}`);
      resolve(1);
    });
    // Killed by a signal: the shell convention 128 + its number.
    app.once('exit', (code, signal) => resolve(code ?? 128 + (constants.signals[signal] ?? 0)));
  });
}

/** Passes a signal on to the app; before the app runs, stops the local Redis and exits. */
async function onSignal(signal) {
  const { app, redis } = children;
  if (app) {
    if (app.exitCode === null && app.signalCode === null) app.kill(signal);
    return;
  }
  if (redis) await stopLocalRedis(redis);
  process.exit(128 + constants.signals[signal]);
}

async function main() {
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  if (!existsSync(MAIN_JS)) {
    complain(
      `${relative(ROOT, MAIN_JS)} is missing: run \`npm run build\` first (npm start does).`,
    );
    process.exit(1);
  }
  if (existsSync(ENV_FILE)) {
    // Variables already in the environment win over the file.
    process.loadEnvFile(ENV_FILE);
    say('Loaded .env');
  }

  if (process.env.REDIS_URL) {
    say('Using REDIS_URL from the environment');
  } else if (await answersPing(REDIS_HOST, REDIS_PORT)) {
    say(`Using the Redis that answers on ${REDIS_HOST}:${REDIS_PORT}`);
  } else {
    await startLocalRedis();
    process.env.REDIS_URL = `redis://${REDIS_HOST}:${REDIS_PORT}`;
  }

  const code = await runMain(process.env);
  if (children.redis) await stopLocalRedis(children.redis);
  process.exit(code);
}

main().catch((error) => {
  complain(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
