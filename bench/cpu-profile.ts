import { readFileSync } from 'node:fs';

/**
 * Summarises a `node --cpu-prof` profile for bench/findings.md: where the busy time goes by
 * package (self time), and the functions with the most self time. `node
 * dist-bench/bench/cpu-profile.js FILE.cpuprofile [TOP]`. Idle time (the `(idle)` node) is left
 * out of the shares, so they are shares of the time the process was busy.
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

export function summarise(profile: Profile, top = 25): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) =>
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)),
  );
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
    const file = url.split('/').slice(-1)[0];
    const name = `${functionName || '(anonymous)'} ${file}:${lineNumber + 1} [${pkg}]`;
    perFunction.set(name, (perFunction.get(name) ?? 0) + us);
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
  ].join('\n');
}

if (process.argv[1]?.endsWith('cpu-profile.js')) {
  const [file, top] = process.argv.slice(2);
  console.log(summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(top ?? 25)));
}
