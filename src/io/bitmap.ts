/**
 * A pfn bitmap, least-significant bit first within each byte (the kdump and makedumpfile order).
 * Byte indices are `Math.floor(i / 8)`, not `i >>> 3`: a bitmap may hold up to 2^35 bits (Node's
 * 4 GiB typed-array limit) and `>>>` wraps bit numbers at 2^32.
 */
export class Bitmap {
  readonly bytes: Uint8Array;
  constructor(readonly nbits: number, bytes?: Uint8Array) {
    this.bytes = bytes ?? new Uint8Array(Math.ceil(nbits / 8));
  }
  get(i: number): boolean {
    return (this.bytes[Math.floor(i / 8)]! & (1 << (i & 7))) !== 0;
  }
  set(i: number): void {
    this.bytes[Math.floor(i / 8)]! |= 1 << (i & 7);
  }
  clear(i: number): void {
    this.bytes[Math.floor(i / 8)]! &= ~(1 << (i & 7));
  }
  /** Set bits [start, end). */
  setRange(start: number, end: number): void {
    for (let i = start; i < end && (i & 7) !== 0; i++) this.set(i), start++;
    while (start + 8 <= end) this.bytes[Math.floor(start / 8)] = 0xff, start += 8;
    for (let i = start; i < end; i++) this.set(i);
  }
  /** Clear bits [start, end). */
  clearRange(start: number, end: number): void {
    for (let i = start; i < end && (i & 7) !== 0; i++) this.clear(i), start++;
    while (start + 8 <= end) this.bytes[Math.floor(start / 8)] = 0, start += 8;
    for (let i = start; i < end; i++) this.clear(i);
  }
  /** Number of set bits in [start, end). */
  count(start = 0, end = this.nbits): number {
    let n = 0;
    let i = start;
    for (; i < end && (i & 7) !== 0; i++) if (this.get(i)) n++;
    const b8 = this.bytes;
    for (; i + 64 <= end; i += 64) {
      // Zero runs (holes) are common: test eight bytes at once.
      const k = Math.floor(i / 8);
      if ((b8[k]! | b8[k + 1]! | b8[k + 2]! | b8[k + 3]! | b8[k + 4]! | b8[k + 5]! | b8[k + 6]! | b8[k + 7]!) === 0) continue;
      for (let j = k; j < k + 8; j++) n += POPCOUNT[b8[j]!]!;
    }
    for (; i + 8 <= end; i += 8) n += POPCOUNT[b8[Math.floor(i / 8)]!]!;
    for (; i < end; i++) if (this.get(i)) n++;
    return n;
  }
  /**
   * First set bit in [i, end), or -1. Callers that only care about a range pass `end`: an
   * unbounded scan from every section of a sparse, huge bitmap (a corrupt max_mapnr) is
   * quadratic.
   */
  nextSet(i: number, end = this.nbits): number {
    const stop = Math.min(end, this.nbits);
    const b8 = this.bytes;
    while (i < stop) {
      if ((i & 7) === 0) {
        // Skip zero bytes eight at a time where aligned, then one at a time.
        let k = Math.floor(i / 8);
        const kEnd = Math.ceil(stop / 8);
        while (k + 8 <= kEnd && (b8[k]! | b8[k + 1]! | b8[k + 2]! | b8[k + 3]! | b8[k + 4]! | b8[k + 5]! | b8[k + 6]! | b8[k + 7]!) === 0) k += 8;
        while (k < kEnd && b8[k] === 0) k++;
        i = k * 8;
        if (i >= stop) break;
      }
      const b = b8[Math.floor(i / 8)]!;
      if (b === 0) {
        i = (i | 7) + 1;
        continue;
      }
      if (b & (1 << (i & 7))) return i;
      i++;
    }
    return -1;
  }
  /** First clear bit in [i, end), or `end` (default nbits) if there is none. */
  nextClear(i: number, end = this.nbits): number {
    const stop = Math.min(end, this.nbits);
    const b8 = this.bytes;
    while (i < stop) {
      if ((i & 7) === 0) {
        let k = Math.floor(i / 8);
        const kEnd = Math.floor(stop / 8);
        while (k + 8 <= kEnd && (b8[k]! & b8[k + 1]! & b8[k + 2]! & b8[k + 3]! & b8[k + 4]! & b8[k + 5]! & b8[k + 6]! & b8[k + 7]!) === 0xff) k += 8;
        while (k < kEnd && b8[k] === 0xff) k++;
        i = Math.max(i, k * 8);
        if (i >= stop) break;
      }
      const b = b8[Math.floor(i / 8)]!;
      if (b === 0xff && (i | 7) + 1 <= stop) {
        i = (i | 7) + 1;
        continue;
      }
      if (!(b & (1 << (i & 7)))) return i;
      i++;
    }
    return Math.min(end, this.nbits);
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
