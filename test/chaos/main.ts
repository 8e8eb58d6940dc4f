import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseChaosArgs, type ChaosArgs } from './chaos-args.js';
import { runChaos, type RunReport } from './chaos-run.js';
import { checkHistory, type CheckInput } from './invariants.js';
import { detailLines, faultTable, summaryTable, violationReport } from './summary.js';

/**
 * `npm run test:chaos`: the Jepsen-style check. Runs the given seeds one after the other, prints
 * the summary, and for each failed seed what broke with its evidence and how to run it again;
 * exits 1 when an invariant broke or a run could not complete.
 */
async function main(): Promise<number> {
  let args: ChaosArgs;
  try {
    args = parseChaosArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  if (args.check) return checkAgain(args.check);
  const log = (line: string): void => console.log(`chaos: ${line}`);
  const reports: RunReport[] = [];
  const failures: string[] = [];
  const failedSeeds: number[] = [];
  for (const seed of args.seeds) {
    const reproduce = reproduceCommand(seed, args);
    try {
      const report = await runChaos({ seed, faultMs: args.faultMs, sabotage: args.sabotage, log });
      reports.push(report);
      const f = report.result.figures;
      log(
        `seed ${seed}: ${f.violations} violation(s); accepted ${f.accepted}, delivered ${f.delivered}, lost ${f.lost}`,
      );
      if (f.violations > 0) {
        failedSeeds.push(seed);
        const file = writeHistory(report, args.outDir ?? tmpdir());
        const described = violationReport(seed, report.result, `reproduce: ${reproduce}`);
        failures.push(`${described}\n  history: ${file} (check it again: --check ${file})`);
      }
    } catch (error) {
      failedSeeds.push(seed);
      failures.push(
        `seed ${seed} could not complete (reproduce: ${reproduce}): ${(error as Error).stack}`,
      );
    }
  }
  if (reports.length > 0) {
    console.log(`\nChaos summary\n${summaryTable(reports)}\n\n${faultTable(reports)}\n`);
    for (const report of reports) for (const line of detailLines(report)) console.log(line);
  }
  if (failures.length > 0) {
    console.log(`\n${failures.join('\n\n')}\n`);
    console.log(`chaos: FAILED seeds: ${failedSeeds.join(', ')}`);
    return 1;
  }
  console.log('chaos: every invariant held');
  return 0;
}

function reproduceCommand(seed: number, args: ChaosArgs): string {
  const minutes = `${+(args.faultMs / 60_000).toFixed(3)}`;
  const sabotage = args.sabotage ? ` --sabotage ${args.sabotage}` : '';
  return `npm run test:chaos -- --seed ${seed} --minutes ${minutes}${sabotage}`;
}

/** The run's history and end state as JSON, so a failure can be studied and checked again. */
function writeHistory(report: RunReport, dir: string): string {
  const file = join(dir, `chaos-seed-${report.seed}-${Date.now()}.json`);
  const saved: SavedRun = {
    seed: report.seed,
    faultMs: report.faultMs,
    plan: report.plan,
    input: { ...report.input, alertsEntries: [...(report.input.alertsEntries ?? [])] },
    violations: report.result.violations,
  };
  writeFileSync(file, JSON.stringify(saved));
  return file;
}

/** `--check FILE`: the invariants of today's checker on a saved run. */
function checkAgain(file: string): number {
  const saved = JSON.parse(readFileSync(file, 'utf8')) as SavedRun;
  const input: CheckInput = { ...saved.input, alertsEntries: new Map(saved.input.alertsEntries) };
  const result = checkHistory(input);
  if (result.violations.length === 0) {
    console.log(`chaos: seed ${saved.seed} (${file}): every invariant held`);
    return 0;
  }
  console.log(violationReport(saved.seed, result, `checked again from ${file}`));
  return 1;
}

/** A run as saved: what the checker read, with the entries' Map as pairs for JSON. */
interface SavedRun {
  seed: number;
  faultMs: number;
  plan: RunReport['plan'];
  input: Omit<CheckInput, 'alertsEntries'> & { alertsEntries: Array<[string, string]> };
  violations: RunReport['result']['violations'];
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
