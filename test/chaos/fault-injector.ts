import { Redis } from 'ioredis';
import { sleep } from '../support/wait-for.js';
import type { ChaosSystem } from './chaos-system.js';
import type { FaultLane, PlannedFault } from './fault-schedule.js';
import type { History, InjectedFault } from './history.js';

const RECEIVER_MODES = {
  'receiver-500': '500',
  'receiver-429': '429',
  'receiver-stall': 'stall',
} as const;

/**
 * Plays a fault plan on a running system: each lane in its own loop, each fault injected at its
 * planned time (or as soon as the lane's previous fault is over, when healing it took longer),
 * held for its duration, then healed. Every fault goes into the history with the times it really
 * started and ended.
 */
export class FaultInjector {
  private stopped = false;

  constructor(
    private readonly system: ChaosSystem,
    private readonly history: History,
  ) {}

  /** Plays the plan; no fault starts after `faultMs`. Resolves once every lane's last fault is healed. */
  async play(plan: readonly PlannedFault[], faultMs: number): Promise<void> {
    const start = Date.now();
    const lanes: FaultLane[] = ['process', 'redis', 'receiver'];
    await Promise.all(
      lanes.map(async (lane) => {
        for (const fault of plan.filter((f) => f.lane === lane)) {
          const wait = start + fault.atMs - Date.now();
          if (wait > 0) await sleep(wait);
          if (this.stopped || Date.now() - start > faultMs) return;
          await this.apply(fault);
        }
      }),
    );
  }

  /** No further fault starts; the ones running are still healed. */
  stop(): void {
    this.stopped = true;
  }

  private async apply(fault: PlannedFault): Promise<void> {
    const record: InjectedFault = {
      ...fault,
      targetName: this.targetName(fault),
      startedAt: Date.now(),
    };
    this.history.faults.push(record);
    try {
      record.note = await this.inject(fault);
    } catch (error) {
      record.note = `failed: ${String(error)}`;
    }
    record.endedAt = Date.now();
  }

  private targetName(fault: PlannedFault): string {
    if (fault.lane === 'receiver') return 'receiver';
    if (fault.target === undefined) return 'redis';
    if (fault.target === -1) return 'all proxies';
    const name = this.system.processes[fault.target].name;
    return fault.lane === 'redis' ? `proxy of ${name}` : name;
  }

  /** Injects the fault, holds it, heals it; returns a note when it went differently from the plan. */
  private async inject(fault: PlannedFault): Promise<string | undefined> {
    const { system } = this;
    const held = (): Promise<void> => sleep(fault.durationMs);
    switch (fault.kind) {
      case 'instance-kill': {
        const member = system.processes[fault.target!];
        if (member.service.state !== 'running') return `skipped: ${member.service.state}`;
        await member.service.kill9();
        await held();
        await system.restart(member, this.history);
        return undefined;
      }
      case 'instance-stop': {
        const member = system.processes[fault.target!];
        if (member.service.state !== 'running') return `skipped: ${member.service.state}`;
        member.service.freeze();
        await held();
        member.service.thaw();
        return undefined;
      }
      case 'redis-kill':
        await system.redis.kill();
        await held();
        await system.redis.restart();
        return undefined;
      case 'redis-stop':
        system.redis.freeze();
        await held();
        system.redis.thaw();
        return undefined;
      case 'redis-sleep':
        return this.debugSleep(fault.durationMs);
      case 'redis-oom': {
        const info = await system.admin.info('memory');
        const used = Number(/used_memory:(\d+)/.exec(info)?.[1]);
        // Half of what is used: a wide margin, since client buffers come and go.
        const limit = Math.floor(used / 2);
        await system.admin.config('SET', 'maxmemory', String(limit));
        await held();
        await system.untilRedisAnswers(() => system.admin.config('SET', 'maxmemory', '0'));
        return `maxmemory ${limit} (used ${used})`;
      }
      case 'lost-reply': {
        const proxy = system.processes[fault.target!].proxy;
        const before = proxy.stats.lostReplies;
        proxy.loseReply(fault.skip);
        await held();
        const lost = proxy.stats.lostReplies > before;
        await proxy.heal();
        return lost ? undefined : 'no reply came through in time: none lost';
      }
      case 'black-hole': {
        const proxies =
          fault.target === -1 ? system.allProxies() : [system.processes[fault.target!].proxy];
        for (const proxy of proxies) proxy.blackHole();
        await held();
        await Promise.all(proxies.map((proxy) => proxy.heal()));
        return undefined;
      }
      case 'receiver-500':
      case 'receiver-429':
      case 'receiver-stall':
        system.receiverMode = RECEIVER_MODES[fault.kind];
        await held();
        system.receiverMode = 'ok';
        return undefined;
    }
  }

  /** DEBUG SLEEP on a connection of its own: Redis serves nobody for that long. */
  private async debugSleep(durationMs: number): Promise<string | undefined> {
    const client = new Redis(this.system.redis.port, '127.0.0.1', {
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      commandTimeout: durationMs + 5_000,
    });
    client.on('error', () => undefined);
    try {
      await client.call('DEBUG', 'SLEEP', (durationMs / 1_000).toFixed(1));
      return undefined;
    } finally {
      client.disconnect();
    }
  }
}
