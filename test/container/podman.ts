import { spawn } from 'node:child_process';

export interface CommandResult {
  /** Exit code; null when the command was killed (e.g. for running over its time). */
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

/**
 * Runs `podman ...args` and collects its output. Never waits longer than `timeoutMs`: past it
 * the command gets SIGKILL and the result says `timedOut`. Never rejects, so that cleanup code
 * can call it whatever state things are in.
 */
export function podman(args: string[], timeoutMs: number): Promise<CommandResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('podman', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const finish = (code: number | null, error?: Error): void => {
      clearTimeout(timer);
      resolve({
        code,
        stdout,
        stderr: error ? `${stderr}${String(error)}` : stderr,
        ms: Date.now() - started,
        timedOut,
      });
    };
    child.once('error', (error) => finish(null, error));
    child.once('close', (code) => finish(code));
  });
}

/** Like `podman`, but fails with the command, its exit and the end of its output unless it exits 0. */
export async function podmanOk(args: string[], timeoutMs: number): Promise<CommandResult> {
  const result = await podman(args, timeoutMs);
  if (result.code !== 0) {
    const how = result.timedOut ? `did not finish within ${timeoutMs} ms` : `exited ${result.code}`;
    throw new Error(
      `podman ${args.join(' ')} ${how}\n${tail(result.stdout)}\n${tail(result.stderr)}`,
    );
  }
  return result;
}

/** The last `lines` lines of some output, enough to see why a command failed. */
export function tail(text: string, lines = 40): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
