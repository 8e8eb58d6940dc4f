import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { Redis } from 'ioredis';
import { freePort } from '@redis-streams-alerts/nestjs-redis-streams/testing';

/** Every server the launchers started and did not kill yet: killed when the test process exits. */
const alive = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of alive) child.kill('SIGKILL');
});

/** How much of a server's own output is kept for error messages. */
const OUTPUT_TAIL_CHARS = 4_000;

/**
 * One redis-server (data node or Sentinel) run by a multi-server launcher, in the foreground as a
 * child of the test process, so it can be SIGKILLed as in a crash.
 */
export class RedisNodeProcess {
  private output = '';

  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('exit', () => alive.delete(child));
  }

  /** Starts `redis-server args...` and waits until it answers PING on `port`. */
  static async start(port: number, args: string[], timeoutMs = 10_000): Promise<RedisNodeProcess> {
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    alive.add(child);
    const node = new RedisNodeProcess(port, child);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!node.running) {
        throw new Error(`redis-server on port ${port} exited at start: ${node.output}`);
      }
      // A plain TCP probe first: a refused ioredis connection leaves its connect timer running.
      if ((await accepts(port)) && (await redisCommand(port, ['PING'], 500)) === 'PONG') {
        return node;
      }
      await sleep(25);
    }
    await node.kill();
    throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines the server printed, for error messages. */
  get log(): string {
    return this.output;
  }

  /** SIGKILL, as in a crash; resolves once the process is gone. */
  async kill(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await exited;
  }
}

/**
 * Runs one command on the server at `port` over a connection of its own, closed afterwards: a
 * launcher asks servers that may just have been killed, so nothing is kept open or retried.
 */
export async function redisCommand(
  port: number,
  args: Array<string | number>,
  timeoutMs = 2_000,
): Promise<unknown> {
  const connection = new Redis(port, '127.0.0.1', {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
  });
  connection.on('error', () => undefined);
  try {
    await connection.connect();
    const [name, ...rest] = args;
    return await connection.call(String(name), ...rest);
  } finally {
    connection.disconnect();
  }
}

/** Whether something accepts TCP connections on `port` of the loopback interface. */
export async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (result: boolean): void => {
      socket.destroy();
      resolve(result);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Whether nothing listens on `port` of the loopback interface right now. */
async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A Cluster node uses two ports: its own and the bus port, port + 10000. */
export const CLUSTER_BUS_OFFSET = 10_000;

/**
 * A free port whose cluster bus port is free too, and that neither is in `taken` nor collides with
 * the bus port of one in `taken`.
 */
export async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = await freePort();
    const bus = port + CLUSTER_BUS_OFFSET;
    const clashes = [port, bus].some(
      (p) => taken.has(p) || taken.has(p - CLUSTER_BUS_OFFSET) || p === 6379,
    );
    if (bus > 65_535 || clashes || !(await isFree(bus))) continue;
    taken.add(port);
    return port;
  }
  throw new Error('found no free port with a free cluster bus port (port + 10000) in 200 tries');
}

/** Polls `probe` until it returns a value other than undefined, or fails with `what` and the last reason. */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs: number,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
