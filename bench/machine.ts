import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

export interface Machine {
  cores: number;
  memoryGb: number;
  cpuModel: string;
  node: string;
  redis: string;
  versions: Record<string, string>;
  commit: string;
}

const packageVersion = (name: string): string =>
  (JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')) as { version: string })
    .version;

export function describeMachine(): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const own = JSON.parse(readFileSync('package.json', 'utf8')) as { name: string; version: string };
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // Not a git checkout: the report says unknown.
  }
  return {
    cores: cpus().length,
    memoryGb: totalmem() / 1024 ** 3,
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown',
    node: process.version,
    redis:
      /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? '?',
    versions: {
      [own.name]: own.version,
      ioredis: packageVersion('ioredis'),
      '@nestjs/core': packageVersion('@nestjs/core'),
      bullmq: packageVersion('bullmq'),
      autocannon: packageVersion('autocannon'),
      wrk: wrkVersion(),
    },
    commit,
  };
}

/** Whether other work runs: a jest process (other test suites) and the load average. */
export function quietness(): { jest: boolean; load: number } {
  let jest = false;
  try {
    jest = execFileSync('pgrep', ['-f', 'jest.js'], { encoding: 'utf8' }).trim() !== '';
  } catch {
    // pgrep exits 1 when nothing matches.
  }
  return { jest, load: loadavg()[0] };
}

/** wrk prints its version in the first line of its usage, and exits 1. */
function wrkVersion(): string {
  try {
    execFileSync('wrk', ['--version'], { encoding: 'utf8' });
  } catch (error) {
    const out = String((error as { stdout?: string }).stdout ?? '');
    return /^wrk (\S+)/.exec(out)?.[1] ?? 'missing';
  }
  return 'unknown';
}
