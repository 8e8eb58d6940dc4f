import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { RedisConnections } from './redis-connections.js';

/** What the startup check found out about the server's persistence. */
export interface DurabilityReport {
  /** `always`/`everysec`/`no` when append-only persistence is on; `off` when it is not; `unknown` when it could not be read. */
  appendFsync: 'always' | 'everysec' | 'no' | 'off' | 'unknown';
  warning?: string;
}

/**
 * Checks once at startup whether Redis keeps what it acknowledged across a restart. Without the
 * append-only file, a restart of Redis loses every accepted event not yet handled: that deserves a
 * loud warning, not a refusal to start (a test or a cache-only deployment may want exactly that).
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
    const redis = this.connections.command;
    try {
      await this.connections.whenReady(redis, 5_000);
      const [, appendonly] = (await redis.config('GET', 'appendonly')) as string[];
      const [, fsync] = (await redis.config('GET', 'appendfsync')) as string[];
      if (appendonly !== 'yes') {
        this.report = {
          appendFsync: 'off',
          warning:
            'Redis has no append-only persistence (appendonly no): a Redis restart loses accepted events. ' +
            'Set appendonly yes and appendfsync always (or everysec) in production.',
        };
        this.logger.warn(this.report.warning!);
      } else {
        this.report = { appendFsync: fsync as DurabilityReport['appendFsync'] };
        if (fsync !== 'always') {
          this.report.warning = `appendfsync ${fsync}: up to about a second of accepted events can be lost if the Redis host fails`;
          this.logger.warn(this.report.warning);
        } else {
          this.logger.log('Redis persistence: appendonly yes, appendfsync always');
        }
      }
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
}
