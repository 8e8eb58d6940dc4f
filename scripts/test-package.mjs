// `npm run test:package`: proves that the package can be lifted out of this repository.
// 1. `npm pack` the built package, and check the tarball: what `exports`, `main` and `types` point
//    to is there, with README, CHANGELOG, LICENSE and docs/; tests, specs, sources and maps are not.
// 2. In a temporary folder, a minimal Nest application (ESM, compiled by tsc, one module, one
//    `@StreamHandler` class) that depends only on the tarball and registry packages.
// 3. Run it against a redis-server of its own on a free port: an event is handled and
//    acknowledged (nothing pending), and the events its handler fails on are dead-lettered with
//    their reasons (a NonRetryableError at once, a plain error once its attempts ran out).
// Every step is bounded in time; the folder and the processes go, whatever happens.
//
// Usage: node scripts/test-package.mjs [--keep]   (--keep leaves the folder, to look at)
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGE_DIR = join(ROOT, 'packages', 'nestjs-redis-streams');
const PACKAGE = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8'));
const ROOT_PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/** The whole run, install included, ends by then or fails. */
const TOTAL_MS = 180_000;
const STEP_MS = { pack: 30_000, install: 120_000, compile: 60_000, redis: 10_000, app: 60_000 };

/** In the tarball, none of these: tests, specs, sources, source maps, build leftovers. */
const FORBIDDEN = [
  /(^|\/)test\//,
  /\.spec\./,
  /\.e2e-spec\./,
  /^src\//,
  /\.map$/,
  /\.tsbuildinfo$/,
];
/** In the tarball, these besides what package.json points to. */
const REQUIRED = ['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', 'docs/testing.md'];

const STREAM = 'orders';
const GROUP = 'orders-handler';

const cleanups = [];
let failed = false;

function log(message) {
  process.stdout.write(`test:package: ${message}\n`);
}

/**
 * The environment without the `npm_*` settings that `npm run` passes down (this repository's
 * prefix, workspace...): the application is installed as if by hand, outside the repository.
 */
const CLEAN_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)),
);

/** Runs a command to its end, bounded by `timeoutMs`; rejects with its output when it fails. */
function run(command, args, { cwd, timeoutMs, env = {} }) {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        cwd,
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 32 * 1024 * 1024,
        env: { ...CLEAN_ENV, ...env },
      },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const why = error.killed ? `killed after ${timeoutMs} ms` : `exit ${error.code}`;
        reject(new Error(`${command} ${args.join(' ')} (${why})\n${stdout}${stderr}`));
      },
    );
  });
}

/** A TCP port free on the loopback interface right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Every file path that `exports` (all conditions), `main` and `types` point to. */
function pointedTo(manifest) {
  const targets = new Set();
  const walk = (value) => {
    if (typeof value === 'string') targets.add(value.replace(/^\.\//, ''));
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(manifest.exports);
  if (manifest.main) walk(manifest.main);
  if (manifest.types) walk(manifest.types);
  return [...targets];
}

async function pack(into) {
  if (!existsSync(join(PACKAGE_DIR, 'dist', 'index.js'))) {
    throw new Error('the package is not built: run `npm run build` first');
  }
  const [packed] = JSON.parse(
    await run('npm', ['pack', '--json', '--pack-destination', into], {
      cwd: PACKAGE_DIR,
      timeoutMs: STEP_MS.pack,
    }),
  );
  const files = packed.files.map((file) => file.path);
  const problems = [
    ...files
      .filter((file) => FORBIDDEN.some((pattern) => pattern.test(file)))
      .map((f) => `${f} should not be in it`),
    ...[...REQUIRED, ...pointedTo(PACKAGE)]
      .filter((file) => !files.includes(file))
      .map((file) => `${file} is missing`),
  ];
  if (problems.length > 0)
    throw new Error(`the tarball ${packed.filename}:\n  ${problems.join('\n  ')}`);
  log(`packed ${packed.filename}: ${files.length} files, ${Math.round(packed.size / 1024)} kB`);
  return join(into, packed.filename);
}

/** The application: versions as this repository uses them, so that the npm cache has them. */
function writeApp(dir, tarball) {
  const version = (name) => {
    const found =
      ROOT_PACKAGE.dependencies?.[name] ??
      ROOT_PACKAGE.devDependencies?.[name] ??
      PACKAGE.peerDependencies?.[name];
    if (!found) throw new Error(`no version of ${name} in package.json`);
    return found;
  };
  const files = {
    'package.json': JSON.stringify(
      {
        name: 'lift-out-app',
        private: true,
        type: 'module',
        dependencies: {
          [PACKAGE.name]: `file:${tarball}`,
          ...Object.fromEntries(Object.keys(PACKAGE.peerDependencies).map((n) => [n, version(n)])),
          rxjs: version('rxjs'),
        },
        devDependencies: {
          typescript: version('typescript'),
          '@types/node': version('@types/node'),
        },
      },
      null,
      2,
    ),
    'tsconfig.json': JSON.stringify(
      {
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          lib: ['es2023'],
          types: ['node'],
          strict: true,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          // As the Nest starter sets it (ioredis's own declarations need it).
          skipLibCheck: true,
          outDir: 'dist',
          rootDir: 'src',
        },
        include: ['src'],
      },
      null,
      2,
    ),
    'src/order.dto.ts': `import { IsIn, IsInt } from 'class-validator';

export class OrderDto {
  @IsIn(['ok', 'poison', 'flaky'])
  kind!: 'ok' | 'poison' | 'flaky';

  @IsInt()
  n!: number;
}
`,
    'src/orders.handler.ts': `import { Injectable } from '@nestjs/common';
import {
  NonRetryableError,
  StreamHandler,
  type StreamMessage,
} from '${PACKAGE.name}';
import { OrderDto } from './order.dto.js';

@Injectable()
export class OrdersHandler {
  /** The eventIds this handler completed. */
  readonly handled: string[] = [];

  @StreamHandler('${STREAM}', {
    group: '${GROUP}',
    dto: OrderDto,
    maxAttempts: 2,
    backoff: { baseMs: 20, maxMs: 20 },
  })
  async handle(order: OrderDto, message: StreamMessage): Promise<void> {
    if (order.kind === 'poison') throw new NonRetryableError(\`order \${order.n} cannot be handled\`);
    if (order.kind === 'flaky') throw new Error(\`order \${order.n} failed on attempt \${message.attempt}\`);
    this.handled.push(message.eventId);
  }
}
`,
    'src/app.module.ts': `import { Module } from '@nestjs/common';
import { RedisStreamsModule } from '${PACKAGE.name}';
import { OrdersHandler } from './orders.handler.js';

@Module({
  imports: [
    RedisStreamsModule.forRoot({
      url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      consumerName: 'lift-out-1',
      handlerDefaults: { blockMs: 200 },
    }),
  ],
  providers: [OrdersHandler],
})
export class AppModule {}
`,
    'src/main.ts': `import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { StreamEvents, StreamInspector, StreamPublisher } from '${PACKAGE.name}';
import { AppModule } from './app.module.js';
import { OrdersHandler } from './orders.handler.js';

const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
try {
  // Resolves once one event was handled and two dead-lettered; fails after 20 s.
  let handled = 0;
  let deadLettered = 0;
  const settled = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(\`after 20 s: \${handled} handled, \${deadLettered} dead-lettered\`)),
      20_000,
    );
    const check = (): void => {
      if (handled < 1 || deadLettered < 2) return;
      clearTimeout(timer);
      resolve();
    };
    app.get(StreamEvents).subscribe({
      handled: () => (handled++, check()),
      deadLettered: () => (deadLettered++, check()),
    });
  });
  const publisher = app.get(StreamPublisher);
  const ok = await publisher.publish('${STREAM}', { kind: 'ok', n: 1 });
  const poison = await publisher.publish('${STREAM}', { kind: 'poison', n: 2 });
  const flaky = await publisher.publish('${STREAM}', { kind: 'flaky', n: 3 });
  await settled;
  const deadLetters = await app.get(StreamInspector).deadLetters('${STREAM}');
  process.stdout.write(
    JSON.stringify({
      published: { ok: ok.eventId, poison: poison.eventId, flaky: flaky.eventId },
      handled: app.get(OrdersHandler).handled,
      deadLetters: deadLetters.items.map(({ eventId, error, attempts }) => ({ eventId, error, attempts })),
    }) + '\\n',
  );
} finally {
  await app.close();
}
`,
  };
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

async function startRedis() {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  cleanups.push(async () => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited;
  });
  await new Promise((resolve, reject) => {
    child.once('error', (error) =>
      reject(new Error(`cannot start redis-server (${error.message}): is it installed?`)),
    );
    child.once('spawn', resolve);
  });
  // Connections are refused until redis-server listens: the client tries again every 50 ms.
  const client = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 50 });
  client.on('error', () => undefined);
  cleanups.push(async () => client.disconnect());
  // Not events.once: it rejects on the first 'error', a refused connection.
  let timer;
  await Promise.race([
    new Promise((resolve) => client.once('ready', resolve)),
    new Promise((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(`redis-server on port ${port} did not answer within ${STEP_MS.redis} ms`),
          ),
        STEP_MS.redis,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  return { url: `redis://127.0.0.1:${port}`, client };
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

/** What the app reported, checked against what Redis holds. */
async function verify(report, redis) {
  const { published, handled, deadLetters } = report;
  expect(
    JSON.stringify(handled) === JSON.stringify([published.ok]),
    `the handler saw ${JSON.stringify(handled)}, not ${published.ok}`,
  );
  const [pending] = await redis.xpending(STREAM, GROUP);
  expect(Number(pending) === 0, `${pending} entries are still pending in ${GROUP}`);
  const letters = await redis.xrange(`${STREAM}:dlq`, '-', '+');
  expect(letters.length === 2, `${letters.length} dead letters, not 2`);
  const reasons = Object.fromEntries(
    letters.map(([, flat]) => {
      const fields = {};
      for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]] = flat[i + 1];
      return [fields.eventId, fields['dlq-error']];
    }),
  );
  const expected = {
    [published.poison]: 'NonRetryableError: order 2 cannot be handled',
    [published.flaky]: 'gave up after 2 attempts: Error: order 3 failed on attempt 2',
  };
  for (const [eventId, reason] of Object.entries(expected)) {
    expect(
      reasons[eventId] === reason,
      `dead letter of ${eventId}: ${reasons[eventId]}, not "${reason}"`,
    );
    const reported = deadLetters.find((letter) => letter.eventId === eventId);
    expect(
      reported?.error === reason,
      `StreamInspector shows ${JSON.stringify(reported)} for ${eventId}`,
    );
  }
}

async function main() {
  const keep = process.argv.includes('--keep');
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'lift-out-'));
  cleanups.push(async () =>
    keep ? log(`kept ${dir}`) : rmSync(dir, { recursive: true, force: true }),
  );
  const tarball = await pack(dir);
  const app = join(dir, 'app');
  mkdirSync(app);
  writeApp(app, tarball);
  let mark = Date.now();
  await run(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--loglevel=error',
    ],
    { cwd: app, timeoutMs: STEP_MS.install },
  );
  log(`installed the tarball and registry packages in ${Date.now() - mark} ms`);
  mark = Date.now();
  await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], {
    cwd: app,
    timeoutMs: STEP_MS.compile,
  });
  log(`compiled the app with tsc in ${Date.now() - mark} ms`);
  const redis = await startRedis();
  mark = Date.now();
  const output = await run(process.execPath, ['dist/main.js'], {
    cwd: app,
    timeoutMs: STEP_MS.app,
    env: { REDIS_URL: redis.url },
  });
  const report = JSON.parse(output.trim().split('\n').pop());
  await verify(report, redis.client);
  log(
    `the app ran in ${Date.now() - mark} ms: 1 event handled and acknowledged, ` +
      `2 dead-lettered with their reasons; ${Date.now() - started} ms in all`,
  );
}

async function cleanUp() {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup().catch((error) => log(`cleanup: ${error.message}`));
  }
}

const overall = setTimeout(async () => {
  log(`FAILED: not done after ${TOTAL_MS} ms`);
  await cleanUp();
  process.exit(1);
}, TOTAL_MS);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    await cleanUp();
    process.exit(1);
  });
}
try {
  await main();
} catch (error) {
  failed = true;
  log(`FAILED: ${error.message}`);
} finally {
  await cleanUp();
  clearTimeout(overall);
}
process.exit(failed ? 1 : 0);
