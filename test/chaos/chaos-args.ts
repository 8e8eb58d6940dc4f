import { CI } from './chaos.constants.js';
import { SABOTAGE_KINDS, type SabotageKind } from './chaos-run.js';

export interface ChaosArgs {
  seeds: number[];
  faultMs: number;
  sabotage?: SabotageKind;
  /** Where the history of a failed run is written, as JSON. */
  outDir?: string;
  /** A saved history to check again (with the checker as it is now) instead of running. */
  check?: string;
}

export const USAGE = `npm run test:chaos [-- options]
  (no options)       the CI runs: seeds ${CI.seeds.join(', ')}, ${CI.faultMs / 1_000} s of faults each
  --seed N           one run with seed N (a positive integer); --seed random picks one
  --minutes M        faults for M minutes (decimals allowed), e.g. --minutes 30 for a soak;
                     without --seed, the seed is random
  --sabotage KIND    ${SABOTAGE_KINDS.join(' or ')}: acknowledge or delete pending entries behind the
                     consumers' back; the run must then fail (a check of the checker)
  --out DIR          write the history of a failed run there as JSON (default: the temp folder)
  --check FILE       check a saved history again, without running anything`;

/** Parses the runner's arguments; throws with the usage on anything it does not know. */
export function parseChaosArgs(argv: string[]): ChaosArgs {
  const options = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i].split('=', 2);
    if (!['--seed', '--minutes', '--sabotage', '--out', '--check'].includes(name)) {
      throw new Error(`unknown argument ${argv[i]}\n${USAGE}`);
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${name} needs a value\n${USAGE}`);
    options.set(name, value);
  }
  const minutes = options.get('--minutes');
  const faultMs = minutes === undefined ? CI.faultMs : Math.round(Number(minutes) * 60_000);
  if (!Number.isFinite(faultMs) || faultMs < 5_000) {
    throw new Error(`--minutes must be a number of at least 0.1, not ${minutes}\n${USAGE}`);
  }
  let seeds: number[] = [...CI.seeds];
  const seed = options.get('--seed') ?? (minutes === undefined ? undefined : 'random');
  if (seed === 'random') seeds = [Math.floor(Math.random() * 0x7fff_fffe) + 1];
  else if (seed !== undefined) {
    const n = Number(seed);
    if (!Number.isInteger(n) || n <= 0)
      throw new Error(`--seed must be a positive integer\n${USAGE}`);
    seeds = [n];
  }
  const sabotage = options.get('--sabotage');
  if (sabotage !== undefined && !(SABOTAGE_KINDS as readonly string[]).includes(sabotage)) {
    throw new Error(`--sabotage must be one of ${SABOTAGE_KINDS.join(', ')}\n${USAGE}`);
  }
  return {
    seeds,
    faultMs,
    sabotage: sabotage as SabotageKind | undefined,
    outDir: options.get('--out'),
    check: options.get('--check'),
  };
}
