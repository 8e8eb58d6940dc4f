import { Redis } from 'ioredis';
import { AckBatcher } from '../src/consumer/ack-batcher.js';
import { streamsTestbed } from './support/streams-testbed.js';
import { sleep, waitFor } from './support/wait-for.js';

/** AckBatcher against a real redis-server: what goes out as one XACK, on which connection, and failures. */
describe('AckBatcher', () => {
  const bed = streamsTestbed();
  const clients: Redis[] = [];

  /** A client of its own, named so that CLIENT LIST tells which connection sent what. */
  const connect = (name: string): Redis => {
    const client = new Redis(bed.redis.port, '127.0.0.1', { connectionName: name });
    clients.push(client);
    return client;
  };

  afterEach(() => {
    clients.splice(0).forEach((client) => client.disconnect());
  });

  /** `count` entries delivered to group `g` and not yet acknowledged; their ids. */
  const delivered = async (count: number): Promise<string[]> => {
    await bed.client.xgroup('CREATE', 'orders', 'g', '0', 'MKSTREAM');
    for (let i = 0; i < count; i++) await bed.client.xadd('orders', '*', 'n', String(i));
    const reply = (await bed.client.xreadgroup(
      'GROUP',
      'g',
      'c',
      'COUNT',
      count,
      'STREAMS',
      'orders',
      '>',
    )) as Array<[string, Array<[string, string[]]>]>;
    await bed.client.config('RESETSTAT');
    return reply[0][1].map(([id]) => id);
  };

  /** A batcher on the assertion client whose onSettled calls are kept in `settled`. */
  const recordingBatcher = () => {
    const settled: Array<[string[], unknown]> = [];
    const batcher = new AckBatcher<string>(
      () => bed.client,
      'orders',
      'g',
      (jobs, error) => settled.push([jobs, error]),
    );
    return { batcher, settled };
  };

  const pending = async (): Promise<number> =>
    Number(((await bed.client.xpending('orders', 'g')) as [number])[0]);

  const xackCalls = async (): Promise<number> =>
    Number(/cmdstat_xack:calls=(\d+)/.exec(await bed.client.info('commandstats'))?.[1] ?? 0);

  /** The last command each named connection sent, by name. */
  const lastCommands = async (): Promise<Record<string, string>> => {
    const list = (await bed.client.client('LIST')) as string;
    return Object.fromEntries(
      list
        .split('\n')
        .map((line) => [/ name=(\S*)/.exec(line)?.[1], / cmd=(\S*)/.exec(line)?.[1]])
        .filter(([name]) => name),
    );
  };

  it("acknowledges one turn's ids in one XACK, and answers each caller once Redis has it", async () => {
    const ids = await delivered(3);
    const batcher = new AckBatcher(() => bed.client, 'orders', 'g');
    await Promise.all(ids.map((id) => batcher.ack(id)));
    expect(await xackCalls()).toBe(1);
    expect(await pending()).toBe(0);
  });

  it('tells onSettled about the jobs of ackThen, with no error once Redis acknowledged them', async () => {
    const ids = await delivered(2);
    const { batcher, settled } = recordingBatcher();
    batcher.ackThen(ids[0], 'first');
    batcher.ackThen(ids[1], 'second');
    expect(settled).toEqual([]);
    await waitFor(() => settled.length === 1, 'the batch to settle');
    expect(settled).toEqual([[['first', 'second'], null]]);
    expect(await pending()).toBe(0);
  });

  it('sends a full batch at once and starts another', async () => {
    const ids = await delivered(5);
    const batcher = new AckBatcher(() => bed.client, 'orders', 'g', undefined, 2);
    await Promise.all(ids.map((id) => batcher.ack(id)));
    expect(await xackCalls()).toBe(3);
    expect(await pending()).toBe(0);
  });

  it('reports a batch that Redis refuses to onSettled and to every caller of ack', async () => {
    await bed.client.set('orders', 'not a stream');
    const { batcher, settled } = recordingBatcher();
    batcher.ackThen('1-1', 'job');
    const acks = [batcher.ack('1-2'), batcher.ack('1-3')];
    for (const ack of acks) await expect(ack).rejects.toThrow(/WRONGTYPE/);
    expect(settled).toHaveLength(1);
    expect(settled[0][0]).toEqual(['job']);
    expect(String(settled[0][1])).toMatch(/WRONGTYPE/);
  });

  it("holds acknowledgements for the next read and sends them on that read's connection", async () => {
    const ids = await delivered(2);
    const reader = connect('reader');
    const command = connect('command');
    const batcher = new AckBatcher(() => command, 'orders', 'g');
    await Promise.all([reader.ping(), command.ping()]);
    batcher.holdForRead();
    const acks = ids.map((id) => batcher.ack(id));
    await sleep(50);
    expect(await pending()).toBe(2);

    batcher.takeInto(reader);
    await Promise.all(acks);
    expect(await pending()).toBe(0);
    expect(await lastCommands()).toMatchObject({ reader: 'xack', command: 'ping' });
    expect(await xackCalls()).toBe(1);
  });

  it('sends held acknowledgements on the command connection when no read takes them', async () => {
    const ids = await delivered(2);
    const command = connect('command');
    await command.ping();
    const batcher = new AckBatcher(() => command, 'orders', 'g');
    batcher.holdForRead();
    const first = batcher.ack(ids[0]);
    batcher.takeInto(undefined);
    await first;
    expect((await lastCommands()).command).toBe('xack');

    // With a limit, they leave on their own once it has passed.
    batcher.holdForRead(150);
    const started = Date.now();
    await batcher.ack(ids[1]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(await pending()).toBe(0);
  });

  it('fails a batch that Redis does not answer within the timeout, once', async () => {
    const ids = await delivered(1);
    const reader = connect('reader');
    await reader.ping();
    const { batcher, settled } = recordingBatcher();
    bed.redis.freeze();
    try {
      batcher.holdForRead();
      batcher.ackThen(ids[0], 'job');
      batcher.takeInto(reader, 200);
      await waitFor(() => settled.length === 1, 'the batch to fail', 2_000);
    } finally {
      bed.redis.thaw();
    }
    expect(settled[0][0]).toEqual(['job']);
    expect(String(settled[0][1])).toMatch(/no answer to XACK within 200 ms/);
    // The XACK still arrives once Redis runs again; the batch, already failed, is not told twice.
    await waitFor(async () => (await pending()) === 0, 'the late XACK');
    await sleep(50);
    expect(settled).toHaveLength(1);
  });
});
