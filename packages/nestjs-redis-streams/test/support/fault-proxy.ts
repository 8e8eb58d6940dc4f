import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** What the proxy does with traffic right now. */
export type FaultMode = 'pass' | 'blackhole' | 'cut';

/** Counters that tell a test whether its fault really hit live connections. */
export interface FaultProxyStats {
  /** Client connections accepted since the start. */
  accepted: number;
  /** Connections destroyed by `reset()` or `cut()`. */
  reset: number;
  /** Replies dropped by `loseReply()` (each with its connection). */
  lostReplies: number;
  /** Connections open right now. */
  open: number;
}

/**
 * One direction of one connection. Chunks keep their order and are written once their latency has
 * passed; while the proxy black-holes, they wait (the source is paused, as a full TCP window
 * would), and on heal they go through, as TCP retransmission would deliver them.
 */
class Pipe {
  private readonly queue: Array<{ due: number; chunk: Buffer }> = [];
  private timer?: NodeJS.Timeout;
  private ended = false;

  /** `onLostReply`: set on the target-to-client direction; called when a reply is dropped. */
  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly proxy: FaultProxy,
    private readonly onLostReply?: () => void,
  ) {
    from.on('data', (chunk: Buffer) => {
      if (onLostReply && proxy.takeReplyToLose()) {
        onLostReply();
        return;
      }
      this.queue.push({ due: Date.now() + proxy.latencyMs, chunk });
      this.flush();
    });
    from.on('end', () => {
      this.ended = true;
      this.flush();
    });
  }

  flush(): void {
    if (this.proxy.mode === 'blackhole') {
      this.from.pause();
      return;
    }
    this.from.resume();
    const now = Date.now();
    while (this.queue.length > 0 && this.queue[0].due <= now) {
      if (this.to.writable) this.to.write(this.queue.shift()!.chunk);
      else this.queue.shift();
    }
    if (this.queue.length > 0) {
      if (!this.timer) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.flush();
        }, this.queue[0].due - now);
      }
    } else if (this.ended && this.to.writable) {
      this.to.end();
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.queue.length = 0;
  }
}

/** A client connection and its connection to the target, forwarded both ways. */
class Link {
  private readonly pipes: Pipe[];

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    proxy: FaultProxy,
    private readonly onClose: (link: Link) => void,
  ) {
    // Before the pipes, so that these see each chunk first (see FaultProxy.loseRepliesTo).
    let losingReplies = false;
    client.on('data', (chunk: Buffer) => (losingReplies ||= proxy.isMarked(chunk)));
    upstream.on('data', () => {
      if (losingReplies) this.reset();
    });
    this.pipes = [
      new Pipe(client, upstream, proxy),
      // A lost reply: the command ran, its answer is dropped and the connection dies, as when a
      // network path fails after the request got through (TCP cannot lose bytes and carry on).
      new Pipe(upstream, client, proxy, () => this.reset()),
    ];
    // An error on one side is passed on as a reset, as a router in between would see it.
    client.on('error', () => this.reset());
    upstream.on('error', () => this.reset());
    client.on('close', () => this.close());
    upstream.on('close', () => this.close());
  }

  flush(): void {
    for (const pipe of this.pipes) pipe.flush();
  }

  /** Both sides get an RST: pending data on either side is dropped. */
  reset(): void {
    for (const socket of [this.client, this.upstream]) {
      if (socket.destroyed) continue;
      // NOTE: libuv cannot reset a socket whose FIN is on its way (end() was called, e.g. after the
      // peer's FIN): Node then never closes the handle, which leaks it and spins the event loop.
      if (socket.writableEnded || socket.connecting) socket.destroy();
      else socket.resetAndDestroy();
    }
    this.close();
  }

  private close(): void {
    for (const pipe of this.pipes) pipe.dispose();
    for (const socket of [this.client, this.upstream]) {
      if (!socket.destroyed) socket.destroy();
    }
    this.onClose(this);
  }
}

/**
 * A TCP proxy on loopback between a service and Redis that breaks the connection on demand:
 * added latency, black-hole (connections stay open but nothing moves), reset (every open
 * connection gets an RST), cut (nothing listens any more and every connection is dropped), heal.
 */
export class FaultProxy {
  mode: FaultMode = 'pass';
  latencyMs = 0;
  private readonly links = new Set<Link>();
  private server?: Server;
  private counters = { accepted: 0, reset: 0, lostReplies: 0 };
  private marker?: Buffer;
  /** Replies to let through before the one to lose; undefined when none is to be lost. */
  private repliesBeforeLoss?: number;

  private constructor(
    readonly port: number,
    private readonly targetPort: number,
    private readonly targetHost: string,
  ) {}

  /** Listens on `port` (a free one by default) and forwards to the target. */
  static async start(
    targetPort: number,
    options: { port?: number; targetHost?: string } = {},
  ): Promise<FaultProxy> {
    const server = await listenOn(options.port ?? 0);
    const proxy = new FaultProxy(
      (server.address() as AddressInfo).port,
      targetPort,
      options.targetHost ?? '127.0.0.1',
    );
    proxy.adopt(server);
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get stats(): FaultProxyStats {
    return { ...this.counters, open: this.links.size };
  }

  /** Adds `ms` of delay to every chunk, both ways, on open and new connections; 0 removes it. */
  latency(ms: number): void {
    this.latencyMs = ms;
  }

  /** Keeps every connection (and accepts new ones) but forwards nothing until `heal()`. */
  blackHole(): void {
    this.mode = 'blackhole';
    this.flushAll();
  }

  /**
   * Until `heal()`, a connection that sends a request containing `marker` (e.g. a script's SHA)
   * loses the replies from then on: the request reaches the target and runs, and the connection
   * is reset when the first reply comes back, so the client never learns the outcome.
   */
  loseRepliesTo(marker: string): void {
    this.marker = Buffer.from(marker);
  }

  /** For the links: whether a request chunk carries the marker of `loseRepliesTo`. */
  isMarked(chunk: Buffer): boolean {
    return this.marker !== undefined && chunk.includes(this.marker);
  }

  /**
   * Loses one reply: after `skip` more chunks from the target (on any connection), the next one
   * is dropped and its connection reset. The command it answered has run; the client never learns.
   */
  loseReply(skip = 0): void {
    this.repliesBeforeLoss = skip;
  }

  /** For the pipes: whether the chunk arriving now from the target is the reply to lose. */
  takeReplyToLose(): boolean {
    if (this.repliesBeforeLoss === undefined || this.mode !== 'pass') return false;
    if (this.repliesBeforeLoss > 0) {
      this.repliesBeforeLoss -= 1;
      return false;
    }
    this.repliesBeforeLoss = undefined;
    this.counters.lostReplies += 1;
    return true;
  }

  /** Resets every open connection; new connections are accepted as before. Returns how many. */
  reset(): number {
    const links = [...this.links];
    for (const link of links) link.reset();
    this.counters.reset += links.length;
    return links.length;
  }

  /** Stops listening (clients get ECONNREFUSED) and resets every open connection. */
  async cut(): Promise<void> {
    this.mode = 'cut';
    const server = this.server;
    this.server = undefined;
    this.reset();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Back to pass-through without latency or a reply to lose: listens again after a cut, releases a black-hole. */
  async heal(): Promise<void> {
    const wasCut = this.mode === 'cut';
    this.mode = 'pass';
    this.latencyMs = 0;
    this.marker = undefined;
    this.repliesBeforeLoss = undefined;
    if (wasCut) this.adopt(await listenOn(this.port));
    this.flushAll();
  }

  async close(): Promise<void> {
    await this.cut();
  }

  private flushAll(): void {
    for (const link of this.links) link.flush();
  }

  private adopt(server: Server): void {
    this.server = server;
    server.on('connection', (client) => this.accept(client));
  }

  private accept(client: Socket): void {
    if (this.mode === 'cut') {
      client.resetAndDestroy();
      return;
    }
    this.counters.accepted += 1;
    const upstream = connect({ port: this.targetPort, host: this.targetHost, noDelay: true });
    const link = new Link(client, upstream, this, (closed) => this.links.delete(closed));
    this.links.add(link);
  }
}

function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ noDelay: true });
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
