import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { FaultProxy } from '../support/fault-proxy.js';
import { sleep, waitFor } from '../support/wait-for.js';

/** A client of the proxy that collects what comes back and how the connection ended. */
class Probe {
  received = '';
  error?: NodeJS.ErrnoException;
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => (this.received += chunk.toString()));
    socket.on('error', (error) => (this.error = error));
    socket.on('close', () => (this.closed = true));
  }

  static open(port: number): Promise<Probe> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' }, () => resolve(new Probe(socket)));
      socket.once('error', reject);
    });
  }
}

describe('FaultProxy', () => {
  let echo: Server;
  let proxy: FaultProxy;
  const probes: Probe[] = [];

  async function open(): Promise<Probe> {
    const probe = await Probe.open(proxy.port);
    probes.push(probe);
    return probe;
  }

  beforeAll(async () => {
    echo = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    proxy = await FaultProxy.start((echo.address() as AddressInfo).port);
  });

  afterEach(async () => {
    await proxy.heal();
  });

  afterAll(async () => {
    for (const probe of probes) probe.socket.destroy();
    await proxy.close();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  });

  it('passes bytes both ways', async () => {
    const probe = await open();
    probe.socket.write('ping');
    await waitFor(() => probe.received === 'ping', 'the echo', 2_000);
  });

  it('adds latency in both directions, in order', async () => {
    const probe = await open();
    proxy.latency(100);
    const started = Date.now();
    probe.socket.write('a');
    probe.socket.write('b');
    await waitFor(() => probe.received === 'ab', 'the delayed echo', 2_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('holds traffic while black-holed and lets it through on heal', async () => {
    const probe = await open();
    proxy.blackHole();
    probe.socket.write('held');
    await sleep(300);
    expect(probe.received).toBe('');
    expect(probe.closed).toBe(false);
    await proxy.heal();
    await waitFor(() => probe.received === 'held', 'the held bytes', 2_000);
  });

  it('resets open connections but keeps accepting', async () => {
    const probe = await open();
    probe.socket.write('x');
    await waitFor(() => probe.received === 'x', 'the echo', 2_000);
    expect(proxy.reset()).toBeGreaterThanOrEqual(1);
    await waitFor(() => probe.closed, 'the reset', 2_000);
    expect(probe.error?.code).toBe('ECONNRESET');
    const again = await open();
    again.socket.write('y');
    await waitFor(() => again.received === 'y', 'the echo after the reset', 2_000);
  });

  it('loses one reply after letting some through, resetting its connection, and only one', async () => {
    const probe = await open();
    proxy.loseReply(1);
    probe.socket.write('a');
    await waitFor(() => probe.received === 'a', 'the reply let through', 2_000);
    probe.socket.write('b');
    await waitFor(() => probe.closed, 'the reset after the lost reply', 2_000);
    expect(probe.received).toBe('a');
    expect(probe.error?.code).toBe('ECONNRESET');
    expect(proxy.stats.lostReplies).toBe(1);
    const again = await open();
    again.socket.write('c');
    await waitFor(() => again.received === 'c', 'the echo after the lost reply', 2_000);
  });

  it('refuses connections while cut and accepts them after heal', async () => {
    const probe = await open();
    await proxy.cut();
    await waitFor(() => probe.closed, 'the cut', 2_000);
    await expect(Probe.open(proxy.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await proxy.heal();
    const again = await open();
    again.socket.write('z');
    await waitFor(() => again.received === 'z', 'the echo after heal', 2_000);
  });
});
