/**
 * What a Lua script takes, as its header comment declares it: the KEYS and ARGV it reads, each
 * with its meaning, and its reply. A script file opens with the header (after a `#!lua` line, if
 * it has one):
 *
 * ```lua
 * --[[
 *   What the script does, and why it is safe to run twice.
 *
 *   KEYS[1] the stream
 *   KEYS[2] (optional) the done marker
 *
 *   ARGV[1] the group
 *   ARGV[2...] field, value, ...
 *
 *   Reply: what it returns.
 * ]]
 * ```
 *
 * Slots are numbered from 1 without gaps; `(optional)` ones come after the others, and a `...`
 * slot (any number, none included) comes last. `KEYS: none` or `ARGV: none` says there are none.
 * The signature is the one place a call's key and argument counts are decided: `StreamScript`
 * refuses a call that does not fit it.
 */
export class ScriptSignature {
  private constructor(
    readonly keys: Slots,
    readonly args: Slots,
    readonly reply: string,
  ) {}

  /** Reads the header of `source`; `file` names the script in errors. */
  static parse(source: string, file: string): ScriptSignature {
    const header = /^(?:#!lua[^\n]*\n)?--\[\[\n([\s\S]*?)\]\]/.exec(source)?.[1];
    if (header === undefined) {
      throw new Error(`${file}: no header comment (--[[ ... ]]) at the top of the script`);
    }
    const reply = /^\s*Reply:\s*(\S[\s\S]*)$/m.exec(header)?.[1];
    if (reply === undefined) throw new Error(`${file}: the header has no "Reply:" line`);
    return new ScriptSignature(
      Slots.parse(header, 'KEYS', file),
      Slots.parse(header, 'ARGV', file),
      reply.trim().replace(/\s+/g, ' '),
    );
  }

  /** Throws unless a call with `keys` keys and `args` arguments fits the header. */
  check(script: string, keys: number, args: number): void {
    if (this.keys.fits(keys) && this.args.fits(args)) return;
    throw new RangeError(
      `Lua script ${script} called with ${keys} keys and ${args} arguments; its header declares ` +
        `KEYS ${this.keys.describe()} and ARGV ${this.args.describe()}`,
    );
  }
}

/** One declared key or argument. */
export interface Slot {
  index: number;
  meaning: string;
  optional: boolean;
  /** `KEYS[n...]`: this and any number after it, none included. */
  rest: boolean;
}

/** The KEYS (or the ARGV) a header declares. */
export class Slots {
  private constructor(
    readonly list: Slot[],
    /** How many a call passes at least. */
    readonly min: number,
    /** How many a call passes at most (Infinity with a `...` slot). */
    readonly max: number,
  ) {}

  static parse(header: string, kind: 'KEYS' | 'ARGV', file: string): Slots {
    const fail = (problem: string): never => {
      throw new Error(`${file}: the header's ${kind} ${problem}`);
    };
    const none = new RegExp(`^\\s*${kind}: none\\s*$`, 'm').test(header);
    const list: Slot[] = [];
    const line = new RegExp(`^\\s*${kind}\\[(\\d+)(\\.\\.\\.)?\\]\\s+(\\S.*)$`, 'gm');
    for (const [, index, rest, text] of header.matchAll(line)) {
      const optional = text.startsWith('(optional)');
      const meaning = optional ? text.slice('(optional)'.length).trim() : text;
      if (meaning === '') fail(`[${index}] has no meaning`);
      list.push({ index: Number(index), meaning, optional, rest: rest !== undefined });
    }
    if (none && list.length > 0) fail('are declared both as none and as slots');
    if (!none && list.length === 0)
      fail(`are not declared (list ${kind}[1] ... or "${kind}: none")`);
    list.forEach((slot, i) => {
      if (slot.index !== i + 1) fail(`are not numbered 1, 2, ... in order (found [${slot.index}])`);
      if (slot.rest && i !== list.length - 1) fail(`[${slot.index}...] is not the last`);
      if (!slot.optional && !slot.rest && list.slice(0, i).some((s) => s.optional)) {
        fail(`[${slot.index}] is required but follows an optional one`);
      }
    });
    const fixed = list.filter((slot) => !slot.rest);
    const min = fixed.filter((slot) => !slot.optional).length;
    const max = list.some((slot) => slot.rest) ? Infinity : fixed.length;
    return new Slots(list, min, max);
  }

  fits(count: number): boolean {
    return count >= this.min && count <= this.max;
  }

  /** The counts that fit: "3", "3 to 4", "4 or more". */
  describe(): string {
    if (this.max === Infinity) return `${this.min} or more`;
    return this.min === this.max ? String(this.min) : `${this.min} to ${this.max}`;
  }
}
