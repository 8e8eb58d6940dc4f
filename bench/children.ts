import { fork, spawn, type ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();

/** Starts a node child process that is killed when the bench ends, however it ends. */
export function startChild(
  script: string,
  env: Record<string, string>,
  options: { ipc?: boolean; args?: string[]; nodeArgs?: string[] } = {},
): ChildProcess {
  const fullEnv = { ...process.env, ...env };
  const nodeArgs = options.nodeArgs ?? [];
  const child = options.ipc
    ? fork(script, options.args ?? [], {
        env: fullEnv,
        execArgv: nodeArgs,
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      })
    : spawn(process.execPath, [...nodeArgs, script, ...(options.args ?? [])], {
        env: fullEnv,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  child.on('exit', (code, signal) => {
    children.delete(child);
    if (code && signal === null) process.stderr.write(`${script} exited ${code}: ${stderr}\n`);
  });
  children.add(child);
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export function killAllChildren(): void {
  for (const child of children) child.kill('SIGKILL');
}

/**
 * The child's next IPC message whose `type` is `type`; rejects if the child exits first or sends
 * none within `timeoutMs`.
 */
export function nextReport<R extends { type: string }>(
  child: ChildProcess,
  type: R['type'],
  timeoutMs = 120_000,
): Promise<R> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no "${type}" from a child process`)), timeoutMs);
    const onMessage = (report: R) => report.type === type && done(undefined, report);
    const onExit = (code: number | null) => done(new Error(`child process exited ${code}`));
    const done = (error?: Error, report?: R) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(report!);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}
