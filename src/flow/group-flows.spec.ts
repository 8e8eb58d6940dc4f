import {
  UnknownStreamError,
  type FlowControl,
  type FlowState,
  type RedisStreamsStatus,
  type StreamInfo,
  type StreamInspector,
} from '@redis-streams-alerts/nestjs-redis-streams';
import { GroupFlows, UnknownGroupError } from './group-flows.js';

const HANDLERS = [
  { stream: 'alerts', group: 'alerts-webhook' },
  { stream: 'alerts', group: 'alerts-recorder' },
  { stream: 'alerts:dlq', group: 'alerts-recorder-dlq' },
  // A second handler method in the same group.
  { stream: 'alerts', group: 'alerts-webhook' },
];

/** Flow control over a map, recording what it was asked. */
class FakeFlowControl {
  readonly paused = new Set<string>();
  readonly calls: string[] = [];
  async pause(stream: string, group: string): Promise<void> {
    this.calls.push(`pause ${stream} ${group}`);
    this.paused.add(`${stream}/${group}`);
  }
  async resume(stream: string, group: string): Promise<void> {
    this.calls.push(`resume ${stream} ${group}`);
    this.paused.delete(`${stream}/${group}`);
  }
  async state(stream: string, group: string): Promise<FlowState> {
    return { paused: this.paused.has(`${stream}/${group}`), circuit: 'closed', failureStreak: 0 };
  }
}

function subject(): { flows: GroupFlows; control: FakeFlowControl } {
  const control = new FakeFlowControl();
  const status = { handlers: () => HANDLERS } as unknown as RedisStreamsStatus;
  const inspector = {
    assertKnown: (stream: string) => {
      if (!HANDLERS.some((h) => h.stream === stream)) throw new UnknownStreamError(stream);
    },
  } as unknown as StreamInspector;
  return {
    flows: new GroupFlows(control as unknown as FlowControl, status, inspector),
    control,
  };
}

describe('GroupFlows', () => {
  it('pauses and resumes a handled group, answering its state after', async () => {
    const { flows, control } = subject();
    expect(await flows.pause('alerts', 'alerts-webhook')).toMatchObject({ paused: true });
    expect(await flows.state('alerts', 'alerts-webhook')).toMatchObject({ paused: true });
    expect(await flows.resume('alerts', 'alerts-webhook')).toMatchObject({ paused: false });
    expect(control.calls).toEqual(['pause alerts alerts-webhook', 'resume alerts alerts-webhook']);
  });

  it('refuses a stream or a group no handler consumes, and writes nothing', async () => {
    const { flows, control } = subject();
    await expect(flows.pause('secrets', 'alerts-webhook')).rejects.toBeInstanceOf(
      UnknownStreamError,
    );
    await expect(flows.resume('alerts', 'alerts-recorder-dlq')).rejects.toThrow(
      new UnknownGroupError('alerts', 'alerts-recorder-dlq', ['alerts-recorder', 'alerts-webhook']),
    );
    await expect(flows.state('alerts:dlq', 'nobody')).rejects.toBeInstanceOf(UnknownGroupError);
    expect(control.calls).toEqual([]);
  });

  it('lists every handled group once with its state', async () => {
    const { flows } = subject();
    await flows.pause('alerts:dlq', 'alerts-recorder-dlq');
    expect(
      (await flows.all()).map(({ stream, group, paused }) => `${stream}/${group} ${paused}`),
    ).toEqual([
      'alerts/alerts-recorder false',
      'alerts/alerts-webhook false',
      'alerts:dlq/alerts-recorder-dlq true',
    ]);
  });

  it('adds the flow state to the handled groups of a stream, and only to them', async () => {
    const { flows } = subject();
    await flows.pause('alerts', 'alerts-webhook');
    const group = (name: string) => ({
      name,
      consumers: [],
      pending: 0,
      lag: 0,
      lastDeliveredId: '0-0',
      oldestPendingAgeMs: null,
    });
    const info: StreamInfo = {
      stream: 'alerts',
      length: 0,
      firstId: null,
      lastId: null,
      groups: [group('alerts-webhook'), group('someone-else')],
      deadLetter: { stream: 'alerts:dlq', length: 0 },
    };
    const [withFlows] = await flows.withFlows([info]);
    expect(withFlows.groups[0].flow).toEqual({ paused: true, circuit: 'closed', failureStreak: 0 });
    expect(withFlows.groups[1]).not.toHaveProperty('flow');
  });
});
