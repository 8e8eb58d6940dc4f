import { Injectable } from '@nestjs/common';
import { DEFAULTS } from './redis-streams.constants.js';
import { RedisConnections } from './redis-connections.js';

/** What one consumer loop reports about itself. */
export interface ConsumerState {
  stream: string;
  group: string;
  consumer: string;
  /** The loop is alive and reading (false before start, after stop, or if it died). */
  running: boolean;
  /** Handler calls in progress in this instance. */
  inFlight: number;
  /** The last error the loop met talking to Redis, cleared by the next successful read. */
  lastError?: string;
}

export interface PingResult {
  ok: boolean;
  latencyMs?: number;
  error?: string;
}

/** Something that can report consumer state; implemented by the consumer loops. */
export interface ConsumerStateSource {
  state(): ConsumerState;
}

/** Health facts of the module, for readiness probes and dashboards. */
@Injectable()
export class RedisStreamsStatus {
  private stopping = false;
  private readonly sources: ConsumerStateSource[] = [];
  private readonly handlerList: Array<{ stream: string; group: string }> = [];

  constructor(private readonly connections: RedisConnections) {}

  /** True once shutdown began: the instance should no longer be considered ready. */
  get shuttingDown(): boolean {
    return this.stopping;
  }

  markShuttingDown(): void {
    this.stopping = true;
  }

  register(source: ConsumerStateSource): void {
    this.sources.push(source);
  }

  /** Records a discovered handler, whether or not this instance runs consumers. */
  registerHandler(handler: { stream: string; group: string }): void {
    this.handlerList.push(handler);
  }

  /** Every `@StreamHandler` of the application: stream and group. */
  handlers(): Array<{ stream: string; group: string }> {
    return [...this.handlerList];
  }

  consumers(): ConsumerState[] {
    return this.sources.map((source) => source.state());
  }

  /** PINGs Redis on the command connection; never waits longer than `timeoutMs`. */
  async ping(timeoutMs: number = DEFAULTS.pingTimeoutMs): Promise<PingResult> {
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const redis = this.connections.command;
      // A probe answers now: while the connection is down, say so rather than wait for it.
      if (redis.status !== 'ready') throw new Error(`Redis connection is ${redis.status}`);
      await Promise.race([redis.ping(), timeout]);
      return { ok: true, latencyMs: Date.now() - started };
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }
}
