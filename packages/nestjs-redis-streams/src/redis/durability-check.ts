import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { RedisConnections } from './redis-connections.js';

/** What the startup check found out about the server's persistence. */
export interface DurabilityReport {
  /**
   * `always`/`everysec`/`no` when append-only persistence is on; `off` when it is not; `unknown`
   * when it could not be read. With several masters (Cluster), the weakest of them.
   */
  appendFsync: 'always' | 'everysec' | 'no' | 'off' | 'unknown';
  warning?: string;
  /** Which servers were asked, when that is not simply the one configured (Cluster, Sentinel). */
  checked?: string;
}

type Fsync = DurabilityReport['appendFsync'];

/** From the setting that loses the most on a crash to the one that loses the least. */
const WEAKEST_FIRST: readonly Fsync[] = ['off', 'no', 'everysec', 'always'];

/**
 * Checks once at startup whether Redis keeps what it acknowledged across a restart. Without the
 * append-only file, a restart of Redis loses every accepted event not yet handled: that deserves a
 * loud warning, not a refusal to start (a test or a cache-only deployment may want exactly that).
 * On Cluster it asks every master and reports the weakest; through Sentinel it asks the master of
 * the moment, so a replica promoted later is not checked.
 */
@Injectable()
export class DurabilityCheck implements OnApplicationBootstrap {
  private readonly logger = new Logger('RedisDurability');
  private report: DurabilityReport = { appendFsync: 'unknown' };

  constructor(private readonly connections: RedisConnections) {}

  onApplicationBootstrap(): void {
    // Not awaited: startup must not wait for (or fail on) an unreachable Redis.
    void this.check();
  }

  current(): DurabilityReport {
    return this.report;
  }

  async check(): Promise<DurabilityReport> {
    try {
      await this.connections.whenReady(this.connections.command, 5_000);
      const nodes = await Promise.all(
        this.nodes().map(async ({ address, redis }) => ({
          address,
          fsync: await appendFsyncOf(redis),
        })),
      );
      if (nodes.length === 0) throw new Error('no master to ask');
      const fsync = WEAKEST_FIRST.find((level) => nodes.some((node) => node.fsync === level))!;
      const weakest = nodes.filter((node) => node.fsync === fsync).map((node) => node.address);
      const checked = this.describe(nodes.map((node) => node.address));
      // Name the servers only when some of them are better than the weakest.
      const where = weakest.length < nodes.length ? ` (on ${weakest.join(', ')})` : '';
      if (fsync === 'off') {
        this.report = {
          appendFsync: 'off',
          warning:
            `Redis has no append-only persistence (appendonly no)${where}: a Redis restart loses accepted events. ` +
            'Set appendonly yes and appendfsync always (or everysec) in production.',
        };
        this.logger.warn(this.report.warning!);
      } else {
        this.report = { appendFsync: fsync };
        if (fsync !== 'always') {
          this.report.warning = `appendfsync ${fsync}${where}: up to about a second of accepted events can be lost if the Redis host fails`;
          this.logger.warn(this.report.warning);
        } else {
          this.logger.log(
            `Redis persistence: appendonly yes, appendfsync always${checked ? ` (${checked})` : ''}`,
          );
        }
      }
      if (checked) this.report.checked = checked;
    } catch (error) {
      const message = (error as Error).message;
      const denied = /NOPERM|no permissions/i.test(message);
      this.report = {
        appendFsync: 'unknown',
        warning: denied
          ? 'Cannot verify Redis persistence: the ACL user may not run CONFIG GET. Make sure appendonly is on.'
          : `Cannot verify Redis persistence: ${message}`,
      };
      this.logger.warn(this.report.warning!);
    }
    return this.report;
  }

  /** The servers to ask: every master on Cluster, the master of the moment through Sentinel. */
  private nodes(): Array<{ address: string; redis: Redis }> {
    const nodes = this.connections.dataNodes();
    if (this.connections.mode !== 'sentinel') return nodes;
    return nodes.map(({ redis }) => ({
      address: `${redis.stream?.remoteAddress ?? '?'}:${redis.stream?.remotePort ?? '?'}`,
      redis,
    }));
  }

  private describe(addresses: string[]): string | undefined {
    switch (this.connections.mode) {
      case 'cluster':
        return `masters ${addresses.join(', ')}`;
      case 'sentinel':
        return `master ${addresses.join(', ')} at the time of the check`;
      default:
        return undefined;
    }
  }
}

async function appendFsyncOf(redis: Redis): Promise<Fsync> {
  const [, appendonly] = (await redis.config('GET', 'appendonly')) as string[];
  if (appendonly !== 'yes') return 'off';
  const [, fsync] = (await redis.config('GET', 'appendfsync')) as string[];
  return fsync as Fsync;
}
