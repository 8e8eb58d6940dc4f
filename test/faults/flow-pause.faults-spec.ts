import { sleep } from '../support/wait-for.js';
import { toRecord } from './fault-lab.js';
import { FlowLab, STREAM, WEBHOOK_GROUP, failOn } from './flow-lab.js';

/**
 * Issue 15, "Pause and resume": a group paused from the admin API delivers nothing on any
 * instance, also after the instances restart, while the stream's other groups go on; after resume
 * the backlog is delivered.
 */
const WEBHOOK_ADMIN = `streams/${STREAM}/groups/${WEBHOOK_GROUP}`;
const RECORDER_GROUP = 'alerts-recorder';
/** Longer than a maintenance tick (at most 500 ms), after which every instance obeys the pause. */
const OBEYED_WITHIN_MS = 1_000;
const QUIET_MS = 5_000;

let lab: FlowLab | undefined;

afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

const ok = (status: number): boolean => status >= 200 && status < 300;

describe('pausing the webhook group from the admin API', () => {
  it('delivers nothing on any instance while paused, also across a restart; resume delivers the backlog', async () => {
    const l = (lab = await FlowLab.open('pause', { instances: 2, apiKey: true }));
    const [first, second] = l.services;
    for (let i = 0; i < 3; i++) expect(await l.post(l.services[i % 2])).toBe(202);
    expect(await l.allDelivered(10_000)).toBeDefined();

    const unauthorised = await fetch(`${first.url}/admin/${WEBHOOK_ADMIN}/pause`, {
      method: 'POST',
      signal: AbortSignal.timeout(10_000),
    });
    expect(unauthorised.status).toBe(401);
    expect(ok(await l.adminCall(first, 'POST', `${WEBHOOK_ADMIN}/pause`))).toBe(true);
    // The state lives in Redis, where every instance and every restart finds it.
    expect(await l.admin.hget(`${STREAM}:flow:${WEBHOOK_GROUP}`, 'paused')).toBe('1');
    await sleep(OBEYED_WITHIN_MS);

    const pausedFrom = Date.now();
    for (let i = 0; i < 20; i++) expect(await l.post(l.services[i % 2])).toBe(202);
    for (const service of l.services) {
      const exit = await service.terminate(20_000);
      expect(exit.code).toBe(0);
      // Ready again while paused: a paused group is not "unready".
      await service.restart();
    }
    await sleep(QUIET_MS);
    const quietUntil = Date.now();
    const answered = await l.receiver.callsBetween(pausedFrom, quietUntil);
    const started = l.callLog.between(pausedFrom, quietUntil);
    const recorder = await groupInfo(l, RECORDER_GROUP);
    const lastEntry = (
      (await l.admin.xrevrange(STREAM, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>
    )[0][0];

    expect(ok(await l.adminCall(second, 'POST', `${WEBHOOK_ADMIN}/resume`))).toBe(true);
    expect(await l.admin.hget(`${STREAM}:flow:${WEBHOOK_GROUP}`, 'paused')).toBeNull();
    const resumedAt = Date.now();
    const lastAt = await l.allDelivered(15_000);
    await failOn(l, [
      answered.length > 0 &&
        `the receiver got ${answered.length} calls while the group was paused: ${JSON.stringify(answered.slice(0, 3))}`,
      started.length > 0 && `the instances started ${started.length} webhook calls while paused`,
      // The pause is the webhook group's alone: the recorder handled every alert meanwhile.
      (recorder['last-delivered-id'] !== lastEntry || Number(recorder.pending) !== 0) &&
        `the recorder group did not go on while the webhook group was paused: ${JSON.stringify(recorder)}`,
      lastAt === undefined && 'the backlog was not delivered within 15 s of resume',
      (await l.deadLetters()).length > 0 && 'alerts were dead-lettered',
    ]);
    process.stdout.write(
      `\nPause: 20 alerts held for ${quietUntil - pausedFrom} ms across a restart of both ` +
        `instances, delivered ${(lastAt ?? resumedAt) - resumedAt} ms after resume\n\n`,
    );
  }, 90_000);
});

async function groupInfo(l: FlowLab, group: string): Promise<Record<string, unknown>> {
  const groups = (await l.admin.xinfo('GROUPS', STREAM)) as unknown[][];
  const found = groups.map((flat) => toRecord(flat)).find((info) => info.name === group);
  if (!found) throw new Error(`no group ${group}`);
  return found;
}
