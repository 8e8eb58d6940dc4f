import { Inject, Injectable } from '@nestjs/common';
import { StreamHandler, type StreamMessage } from '../src/index.js';
import { PROBE, Probe } from './support/stream-probe.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { sleep, waitFor } from './support/wait-for.js';

@Injectable()
class OneAtATimeHandler {
  constructor(@Inject(PROBE) private readonly probe: Probe) {}

  // One slot: while the handler runs, no read is in flight; when it ends, its acknowledgement
  // leaves together with the next read, on the read connection.
  @StreamHandler('orders', { group: 'single', concurrency: 1, batchSize: 1 })
  handle(payload: unknown, message: StreamMessage): unknown {
    return this.probe.record('single', payload, message);
  }
}

/** Connections that die with commands on them, between the service and Redis (a TCP proxy). */
describe('RedisStreamsModule when a connection dies with commands in flight', () => {
  const bed = streamsTestbed({ faultProxy: true });

  // ioredis 6 without autoResendUnfulfilledCommands drops the commands that were in flight when
  // a connection closed after its first reconnect, without settling them. A read that waited for
  // every reply of its pipeline (the XACK sent with it has no client-side timeout) hung forever.
  it('keeps reading after a reset drops a read and the acknowledgements sent with it', async () => {
    const probe = new Probe();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    probe.behaviour = (call) => ((call.payload as { n: string }).n === 'held' ? gate : undefined);
    const { client, proxy } = bed;
    await bed.start(
      {
        url: proxy.url,
        consumerName: 'c1',
        claimMinIdleMs: 60_000,
        handlerDefaults: { blockMs: 200, backoff: { baseMs: 50, maxMs: 200 } },
      },
      [{ provide: PROBE, useValue: probe }, OneAtATimeHandler],
    );
    await client.xadd('orders', '*', 'eventId', 'held', 'payload', '{"n":"held"}');
    await waitFor(() => probe.calls.length === 1, 'the handler to start');

    // The handler ends while nothing gets through: its XACK and the next XREADGROUP are written
    // into the black hole, then the connection is reset under them.
    proxy.blackHole();
    release();
    await sleep(300);
    expect(proxy.reset()).toBeGreaterThan(0);
    await proxy.heal();

    await client.xadd('orders', '*', 'eventId', 'after', 'payload', '{"n":"after"}');
    await waitFor(
      () => probe.calls.some((c) => c.message.eventId === 'after'),
      'the entry appended after the reset to be handled',
      8_000,
    );
    await waitFor(
      async () => Number(((await client.xpending('orders', 'single')) as [number])[0]) === 0,
      'both entries acknowledged',
      8_000,
    );
    expect(probe.calls.map((c) => c.message.eventId)).toEqual(['held', 'after']);
  }, 30_000);
});
