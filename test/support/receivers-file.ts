import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A receivers file (`ALERTS_RECEIVERS_FILE`) in a folder of its own; `remove()` deletes both. */
export interface ReceiversFile {
  readonly path: string;
  remove(): void;
}

/** Writes `yaml` as a receivers file in a new temporary folder. */
export function writeReceiversFile(yaml: string): ReceiversFile {
  const dir = mkdtempSync(join(tmpdir(), 'receivers-'));
  const path = join(dir, 'receivers.yml');
  writeFileSync(path, yaml);
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
