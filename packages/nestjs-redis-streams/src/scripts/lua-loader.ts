import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ScriptSignature } from './script-signature.js';
import { StreamScript } from './stream-script.js';

/*
 * The library's Lua scripts are files, lua/<name>.lua, read once when the module that exports them
 * loads. A script pulls in a shared fragment of includes/ with a line `--- @include "<name>"` (as
 * BullMQ's commands do), which is replaced by that file; an include may include others, and each
 * goes in once per script, where it is first named. Scripts are found next to this module, so the
 * same code reads them from src/ (tests) and from dist/, where the package's build copies them.
 */

/** The folder of the scripts; includes are in its `includes/`. */
export const LUA_DIR = new URL('./lua/', import.meta.url);

/** Any line that asks for an include, well-formed or not (so a typo is an error, not a comment). */
const DIRECTIVE = /^---?[ \t]*@include\b(.*)\n?/gm;
const INCLUDE_NAME = /^[ \t]+"([a-z0-9-]+)"[ \t;]*$/;

/** The script lua/<name>.lua, its includes expanded, checked against its header on every call. */
export function loadScript(name: string): StreamScript {
  const source = expandLua(new URL(`${name}.lua`, LUA_DIR));
  return new StreamScript(name, source, ScriptSignature.parse(source, `${name}.lua`));
}

/**
 * The source of the script at `file` with every `--- @include "name"` replaced by
 * `includes`/name.lua. Throws, naming the file that asks, for an include that is missing,
 * malformed, or part of a cycle.
 */
export function expandLua(file: URL, includes: URL = new URL('includes/', LUA_DIR)): string {
  const script = basename(fileURLToPath(file));
  const done = new Set<string>();
  const expand = (source: string, chain: string[]): string =>
    source.replace(DIRECTIVE, (line: string, rest: string) => {
      const from = chain.length === 0 ? script : `includes/${chain.at(-1)}.lua`;
      const name = INCLUDE_NAME.exec(rest)?.[1];
      if (name === undefined) {
        throw new Error(`${from}: malformed include "${line.trim()}" (write --- @include "name")`);
      }
      if (chain.includes(name)) {
        throw new Error(`${from}: include cycle ${[...chain, name].join(' -> ')}`);
      }
      if (done.has(name)) return '';
      done.add(name);
      const text = readLua(new URL(`${name}.lua`, includes), `${from} includes "${name}", but`);
      return expand(text, [...chain, name]).replace(/\n*$/, '\n');
    });
  return expand(readLua(file, 'Lua script:'), []);
}

function readLua(file: URL, context: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new Error(
      `${context} there is no ${fileURLToPath(file)} (the package's build copies src/scripts/lua ` +
        'to dist/scripts/lua)',
      { cause: error },
    );
  }
}
