/**
 * A small seeded pseudo-random generator (mulberry32), so that a fuzz run that failed can be
 * repeated exactly by passing its seed again.
 */
export class SeededRandom {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** The seed from the environment variable `name` when it is set, else a new one. */
  static seedFrom(name: string): number {
    const given = Number(process.env[name]);
    return Number.isInteger(given) && given > 0
      ? given
      : Math.floor(Math.random() * 0xffff_fffe) + 1;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** A whole number in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }

  bytes(length: number): Buffer {
    const buffer = Buffer.alloc(length);
    for (let i = 0; i < length; i++) buffer[i] = this.int(0, 255);
    return buffer;
  }

  /** `length` characters drawn from `alphabet`. */
  stringOf(alphabet: string, length: number): string {
    const chars = [...alphabet];
    let text = '';
    for (let i = 0; i < length; i++) text += this.pick(chars);
    return text;
  }

  /**
   * Text of whole code points from every plane (ASCII, control characters, accents, CJK, emoji,
   * right-to-left), never a lone surrogate, so it survives a UTF-8 round trip unchanged.
   */
  unicode(length: number): string {
    const ranges: Array<[number, number]> = [
      [0x20, 0x7e],
      [0x00, 0x1f],
      [0xa0, 0x24f],
      [0x590, 0x6ff],
      [0x4e00, 0x9fff],
      [0xe000, 0xf8ff],
      [0x1f300, 0x1faff],
      [0x10000, 0x10ffff],
    ];
    let text = '';
    for (let i = 0; i < length; i++) {
      const [low, high] = this.chance(0.6) ? ranges[0] : this.pick(ranges);
      text += String.fromCodePoint(this.int(low, high));
    }
    return text;
  }
}
