import autocannon from 'autocannon';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { percentile } from './stats.js';

const run = promisify(execFile);
const SCRIPT = 'bench/wrk-post.lua';

/** What one wrk run measured. */
export interface LoadResult {
  requestsPerSec: number;
  requests: number;
  /** Connection errors, timeouts and answers of 400 or more. */
  failed: number;
  p99Ms: number;
}

/**
 * POSTs `body` to `url` as fast as `connections` keep-alive connections allow, for `durationSec`,
 * with wrk on one thread (a C client: on two cores autocannon, in Node, took a good share of the
 * CPU the servers needed). wrk is the Debian package `wrk`.
 */
export async function wrkPost(
  url: string,
  body: string,
  connections: number,
  durationSec: number,
): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-wrk-'));
  const bodyFile = join(dir, 'body.json');
  writeFileSync(bodyFile, body);
  try {
    const { stdout } = await run(
      'wrk',
      // A slow answer is measured, not dropped: wrk's default timeout is 2 s.
      [
        '-t1',
        `-c${connections}`,
        `-d${durationSec}s`,
        '--timeout',
        '30s',
        '-s',
        SCRIPT,
        url,
        '--',
        bodyFile,
      ],
      { timeout: (durationSec + 30) * 1_000 },
    ).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') throw new Error('wrk is missing: apt-get install wrk');
      throw error;
    });
    const line = /^WRK_RESULT (.+)$/m.exec(stdout)?.[1];
    if (!line) throw new Error(`wrk printed no result:\n${stdout}`);
    const r = JSON.parse(line) as Record<string, number>;
    return {
      requestsPerSec: r.requests / (r.durationUs / 1e6),
      requests: r.requests,
      failed: r.connect + r.read + r.write + r.status + r.timeout,
      p99Ms: r.p99Us / 1_000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a run at a fixed rate measured, from the latency of every request. */
export interface FixedRateResult {
  requestsPerSec: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * POSTs `body` to `url` at `rate` requests per second in all, over `connections` keep-alive
 * connections, for `durationSec`. autocannon (wrk cannot hold a rate); its own histogram keeps
 * whole milliseconds, so the percentiles come from each response's time, kept here.
 */
export async function fixedRatePost(
  url: string,
  body: string,
  connections: number,
  rate: number,
  durationSec: number,
): Promise<FixedRateResult> {
  const latencies: number[] = [];
  const run = autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    overallRate: rate,
    duration: durationSec,
  });
  run.on('response', (_client, _status, _bytes, responseTimeMs) => latencies.push(responseTimeMs));
  const result = await run;
  latencies.sort((a, b) => a - b);
  return {
    requestsPerSec: result.requests.total / result.duration,
    failed: result.errors + result.timeouts + result.non2xx,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies[latencies.length - 1] ?? NaN,
  };
}
