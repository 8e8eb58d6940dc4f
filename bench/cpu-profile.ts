import { readFileSync } from 'node:fs';

/**
 * Summarises a `node --cpu-prof` profile for bench/findings.md: where the busy time goes by
 * package (self time), the functions with the most self time, and those with the most time
 * including what they call (each counted once per sample). `node dist-bench/bench/cpu-profile.js
 * FILE.cpuprofile [TOP] [FROM_SECONDS]`: samples before FROM_SECONDS (start-up, warm-up) are left
 * out, and so is idle time, so the shares are of the time the process was busy.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** What a frame belongs to, from its script's path. */
export function packageOf(url: string, functionName: string): string {
  if (url === '') {
    return functionName.startsWith('(') ? functionName : '(native)';
  }
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1];
  if (url.includes('/packages/nestjs-redis-streams/')) return 'the library';
  if (url.includes('/dist/')) return 'the app';
  return url;
}

export function summarise(profile: Profile, top = 25, fromSeconds = 0): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const selfUs = new Map<number, number>();
  let elapsed = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    elapsed += delta;
    if (elapsed >= fromSeconds * 1e6) selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  const frameName = ({ functionName, url, lineNumber }: ProfileNode['callFrame']) =>
    `${functionName || '(anonymous)'} ${url.split('/').slice(-1)[0]}:${lineNumber + 1} [${packageOf(url, functionName)}]`;
  const inclusive = new Map<string, number>();
  const perPackage = new Map<string, number>();
  const perFunction = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    const pkg = packageOf(url, functionName);
    perPackage.set(pkg, (perPackage.get(pkg) ?? 0) + us);
    const name = frameName({ functionName, url, lineNumber });
    perFunction.set(name, (perFunction.get(name) ?? 0) + us);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = frameName(byId.get(at)!.callFrame);
      if (seen.has(frame)) continue;
      seen.add(frame);
      inclusive.set(frame, (inclusive.get(frame) ?? 0) + us);
    }
  }
  const share = (us: number) => `${((100 * us) / busy).toFixed(1)} %`;
  const rows = (map: Map<string, number>, n: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => `| ${name} | ${share(us)} |`)
      .join('\n');
  return [
    `busy ${(busy / 1e6).toFixed(1)} s, idle ${(idle / 1e6).toFixed(1)} s`,
    '',
    '| package (self time) | share of busy |',
    '| --- | --- |',
    rows(perPackage, 20),
    '',
    '| function (self time) | share of busy |',
    '| --- | --- |',
    rows(perFunction, top),
    '',
    '| function (with what it calls) | share of busy |',
    '| --- | --- |',
    rows(inclusive, top * 2),
  ].join('\n');
}

if (process.argv[1]?.endsWith('cpu-profile.js')) {
  const [file, top, from] = process.argv.slice(2);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  console.log(summarise(profile, Number(top ?? 25), Number(from ?? 0)));
}
