/** A pfn bitmap, least-significant bit first within each byte (the kdump and makedumpfile order). */
export class Bitmap {
  readonly bytes: Uint8Array;
  constructor(readonly nbits: number, bytes?: Uint8Array) {
    this.bytes = bytes ?? new Uint8Array(Math.ceil(nbits / 8));
  }
  get(i: number): boolean {
    return (this.bytes[i >>> 3]! & (1 << (i & 7))) !== 0;
  }
  set(i: number): void {
    this.bytes[i >>> 3]! |= 1 << (i & 7);
  }
  clear(i: number): void {
    this.bytes[i >>> 3]! &= ~(1 << (i & 7));
  }
  /** Set bits [start, end). */
  setRange(start: number, end: number): void {
    for (let i = start; i < end && (i & 7) !== 0; i++) this.set(i), start++;
    while (start + 8 <= end) this.bytes[start >>> 3] = 0xff, start += 8;
    for (let i = start; i < end; i++) this.set(i);
  }
  /** Clear bits [start, end). */
  clearRange(start: number, end: number): void {
    for (let i = start; i < end && (i & 7) !== 0; i++) this.clear(i), start++;
    while (start + 8 <= end) this.bytes[start >>> 3] = 0, start += 8;
    for (let i = start; i < end; i++) this.clear(i);
  }
  /** Number of set bits in [start, end). */
  count(start = 0, end = this.nbits): number {
    let n = 0;
    let i = start;
    for (; i < end && (i & 7) !== 0; i++) if (this.get(i)) n++;
    for (; i + 8 <= end; i += 8) n += POPCOUNT[this.bytes[i >>> 3]!]!;
    for (; i < end; i++) if (this.get(i)) n++;
    return n;
  }
  /** First set bit at or after `i`, or -1. */
  nextSet(i: number): number {
    while (i < this.nbits) {
      const b = this.bytes[i >>> 3]!;
      if (b === 0) {
        i = (i | 7) + 1;
        continue;
      }
      if (b & (1 << (i & 7))) return i;
      i++;
    }
    return -1;
  }
  /** First clear bit at or after `i`, or nbits. */
  nextClear(i: number): number {
    while (i < this.nbits) {
      const b = this.bytes[i >>> 3]!;
      if (b === 0xff) {
        i = (i | 7) + 1;
        continue;
      }
      if (!(b & (1 << (i & 7)))) return i;
      i++;
    }
    return this.nbits;
  }
  clone(): Bitmap {
    // new Uint8Array copies even when `bytes` is a Buffer (whose slice() is a view).
    return new Bitmap(this.nbits, new Uint8Array(this.bytes));
  }
}

const POPCOUNT = (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) t[i] = (i & 1) + t[i >> 1]!;
  return t;
})();
