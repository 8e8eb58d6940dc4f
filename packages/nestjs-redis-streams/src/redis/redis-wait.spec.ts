import { RedisWait } from './redis-wait.js';

describe('RedisWait', () => {
  const oom = new Error("OOM command not allowed when used memory > 'maxmemory'.");

  it('reports nothing while no entry waits', () => {
    expect(new RedisWait().state()).toBeUndefined();
  });

  it('waits longer with every failure of any entry, up to the ceiling', () => {
    const wait = new RedisWait(() => 1);
    const delays = [wait.failed(oom, true), wait.failed(oom, true)];
    for (let i = 0; i < 20; i++) delays.push(wait.failed(oom, false));
    expect(delays.slice(0, 4)).toEqual([100, 200, 400, 800]);
    expect(Math.max(...delays)).toBe(5_000);
    expect(wait.state()).toMatchObject({ entries: 2, failures: 22, error: oom.message });
  });

  it('spreads the waits of entries that fail together over half to all of the ceiling', () => {
    expect(new RedisWait(() => 0).failed(oom, true)).toBe(50);
    expect(new RedisWait(() => 0.5).failed(oom, true)).toBe(75);
  });

  it('ends the spell when the last waiting entry is done, and starts over after it', () => {
    const wait = new RedisWait(() => 1);
    wait.failed(oom, true);
    wait.failed(oom, true);
    wait.done();
    expect(wait.state()?.entries).toBe(1);
    wait.done();
    expect(wait.active).toBe(false);
    expect(wait.state()).toBeUndefined();
    expect(wait.failed(new Error('Command timed out'), true)).toBe(100);
    expect(wait.state()).toMatchObject({ entries: 1, failures: 1, error: 'Command timed out' });
  });
});
