import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The build output of `src/cli/main.ts`; `npm test` builds it before jest. */
export const CLI_JS = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** From spawn to exit. */
  ms: number;
}

/**
 * Runs `node dist/cli/main.js <args>` to its end with only `env` (plus PATH and HOME), so the test
 * runner's own variables do not leak in. Killed, and failed, after `timeoutMs`.
 */
export function runCli(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<CliRun> {
  if (!existsSync(CLI_JS)) {
    throw new Error(`${CLI_JS} does not exist: run "npm run build" first (npm test does)`);
  }
  const started = Date.now();
  const child = spawn(process.execPath, [CLI_JS, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `alerts-cli ${args.join(' ')} did not exit within ${timeoutMs} ms\n${stdout}\n${stderr}`,
        ),
      );
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}
