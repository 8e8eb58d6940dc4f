import type { RunReport } from './chaos-run.js';
import { FAULT_KINDS } from './fault-schedule.js';
import { INVARIANTS, type CheckResult, type InvariantName, type Violation } from './invariants.js';

/** Examples printed per broken invariant; the count says how many there were. */
const EXAMPLES = 5;

/** Fixed-width text table: first column left-aligned, the others right-aligned. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join(' | ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map(line)].join('\n');
}

/** One row per run: what was published, delivered, lost, duplicated, dead-lettered, broken. */
export function summaryTable(reports: RunReport[]): string {
  const rows = reports.map(({ seed, faultMs, result, settledMs }) => {
    const f = result.figures;
    const faults = Object.values(f.faults).reduce((a, b) => a + b, 0);
    return [
      String(seed),
      (faultMs / 60_000).toFixed(1),
      String(faults),
      String(f.accepted),
      String(f.delivered),
      String(f.lost),
      String(f.duplicates),
      String(f.deadLettered),
      String(f.deadLetteredInfra),
      `${f.orderedPublished}/${f.orderedDelivered}/${f.orderedLost}`,
      String(f.outOfOrder),
      String(f.crashes),
      settledMs === undefined ? 'no' : `${(settledMs / 1_000).toFixed(1)} s`,
      String(f.violations),
    ];
  });
  return textTable(
    [
      'seed',
      'min',
      'faults',
      'accepted',
      'delivered',
      'lost',
      'duplicates',
      'dead-lettered',
      'infra DLQ',
      'ordered pub/dlv/lost',
      'out of order',
      'crashes',
      'settled',
      'violations',
    ],
    rows,
  );
}

/** Faults injected by kind, one column per run. */
export function faultTable(reports: RunReport[]): string {
  const rows = FAULT_KINDS.map((kind) => [
    kind,
    ...reports.map((r) => String(r.result.figures.faults[kind] ?? 0)),
  ]);
  return textTable(['fault', ...reports.map((r) => `seed ${r.seed}`)], rows);
}

/** HTTP publish attempts by outcome, and other figures that explain the table. */
export function detailLines(report: RunReport): string[] {
  const f = report.result.figures;
  const attempts = Object.entries(f.publishAttempts)
    .map(([outcome, count]) => `${outcome} ${count}`)
    .join(', ');
  return [
    `seed ${report.seed}: POST /alerts attempts: ${attempts}; delivered without a 202: ${f.unconfirmedDelivered}; ` +
      `delivered and also dead-lettered: ${f.deliveredAndDeadLettered}; ordered dead-lettered: ${f.orderedDeadLettered}; ` +
      `receiver calls: ${f.receiverCalls}; run took ${Math.round(report.durationMs / 1_000)} s`,
    ...Object.entries(f.deadLetterReasons).map(
      ([reason, count]) => `seed ${report.seed}: dead letters ×${count}: ${reason}`,
    ),
    ...report.notes.map((note) => `seed ${report.seed}: note: ${note}`),
  ];
}

/** Every broken invariant of a run, with its count and a few examples with their evidence. */
export function violationReport(seed: number, result: CheckResult, reproduce: string): string {
  const byInvariant = new Map<InvariantName, Violation[]>();
  for (const violation of result.violations) {
    byInvariant.set(violation.invariant, [
      ...(byInvariant.get(violation.invariant) ?? []),
      violation,
    ]);
  }
  const lines = [`seed ${seed} FAILED (${reproduce})`];
  for (const [invariant, violations] of byInvariant) {
    lines.push(`- ${invariant} (${violations.length}): ${INVARIANTS[invariant]}`);
    for (const v of violations.slice(0, EXAMPLES)) lines.push(`    ${v.subject}: ${v.detail}`);
    if (violations.length > EXAMPLES) lines.push(`    ... ${violations.length - EXAMPLES} more`);
  }
  return lines.join('\n');
}
