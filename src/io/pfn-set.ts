/**
 * A set of pfns as the windowed filter reads it: a {@link Bitmap} (a kdump input's bitmaps) or
 * a sorted list of runs ({@link PfnRanges}: an ELF input's PT_LOADs), whose memory is bounded by
 * the number of runs, not by max_mapnr. {@link windowBits} cuts one pfn window out of either.
 */
import { Bitmap } from './bitmap.js';

/** The read-only queries both representations answer (Bitmap's semantics). */
export interface PfnSet {
  readonly nbits: number;
  get(pfn: number): boolean;
  /** First member in [i, end), or -1. */
  nextSet(i: number, end?: number): number;
  /** First non-member in [i, end), or `end` (default nbits). */
  nextClear(i: number, end?: number): number;
  /** Members in [start, end). */
  count(start?: number, end?: number): number;
  /** Set the members of [base, base + out.nbits) in `out` (zeroed; base a multiple of 8), when faster than run by run. */
  fillWindow?(base: number, out: Bitmap): void;
}

/** Disjoint, sorted, non-adjacent pfn runs [start, end) below `nbits`. */
export class PfnRanges implements PfnSet {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  constructor(
    readonly nbits: number,
    runs: Iterable<readonly [number, number]>,
  ) {
    const sorted = [...runs].filter(([s, e]) => e > s).sort((a, b) => a[0] - b[0]);
    for (const [s, e0] of sorted) {
      const e = Math.min(e0, nbits);
      if (e <= s) continue;
      const k = this.starts.length - 1;
      if (k >= 0 && s <= this.ends[k]!) this.ends[k] = Math.max(this.ends[k]!, e);
      else {
        this.starts.push(s);
        this.ends.push(e);
      }
    }
  }
  /** The runs, ascending. */
  runs(): [number, number][] {
    return this.starts.map((s, i) => [s, this.ends[i]!]);
  }
  /** Index of the last run starting at or before `pfn` (-1: none). */
  private at(pfn: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let r = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! <= pfn) {
        r = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return r;
  }
  get(pfn: number): boolean {
    const k = this.at(pfn);
    return k >= 0 && pfn < this.ends[k]!;
  }
  /** Whether every pfn of [start, end) is a member. */
  has(start: number, end: number): boolean {
    const k = this.at(start);
    return k >= 0 && end <= this.ends[k]!;
  }
  nextSet(i: number, end = this.nbits): number {
    const stop = Math.min(end, this.nbits);
    let k = this.at(i);
    if (k >= 0 && i < this.ends[k]!) return i < stop ? i : -1;
    k++;
    if (k < this.starts.length && this.starts[k]! < stop) return Math.max(i, this.starts[k]!);
    return -1;
  }
  nextClear(i: number, end = this.nbits): number {
    const stop = Math.min(end, this.nbits);
    const k = this.at(i);
    const r = k >= 0 && i < this.ends[k]! ? this.ends[k]! : i;
    return Math.min(r, stop);
  }
  count(start = 0, end = this.nbits): number {
    let n = 0;
    for (let k = Math.max(0, this.at(start)); k < this.starts.length && this.starts[k]! < end; k++) {
      const s = Math.max(start, this.starts[k]!);
      const e = Math.min(end, this.ends[k]!);
      if (e > s) n += e - s;
    }
    return n;
  }
  /** Set the members of [base, base + out.nbits) in `out` (bit i = pfn base + i). */
  fillWindow(base: number, out: Bitmap): void {
    const end = base + out.nbits;
    for (let k = Math.max(0, this.at(base)); k < this.starts.length && this.starts[k]! < end; k++) {
      const s = Math.max(base, this.starts[k]!);
      const e = Math.min(end, this.ends[k]!);
      if (e > s) out.setRange(s - base, e - base);
    }
  }
}

/**
 * The members of [base, end) of `set` as a Bitmap indexed from `base` (a multiple of 8). A
 * Bitmap's window is a view of its bytes when it can be (no copy); else it is built in
 * `scratch` (reused when big enough) — so the result is valid until the next call with it.
 */
export function windowBits(set: PfnSet, base: number, end: number, scratch?: { bytes: Uint8Array }): Bitmap {
  if (base % 8 !== 0) throw new RangeError(`window base ${base} is not a multiple of 8`);
  const n = end - base;
  if (set instanceof Bitmap && end <= set.nbits && base <= 2 ** 35) {
    const from = base / 8;
    const to = Math.ceil(end / 8);
    if (end % 8 === 0 || end === set.nbits) return new Bitmap(n, set.bytes.subarray(from, to));
  }
  const len = Math.ceil(n / 8);
  let bytes: Uint8Array;
  if (scratch && scratch.bytes.length >= len) {
    bytes = scratch.bytes.subarray(0, len);
    bytes.fill(0);
  } else {
    bytes = new Uint8Array(len);
    if (scratch) scratch.bytes = bytes;
  }
  const out = new Bitmap(n, bytes);
  if (set.fillWindow) set.fillWindow(base, out);
  else {
    const stop = Math.min(end, set.nbits);
    for (let p = set.nextSet(base, stop); p >= 0; ) {
      const q = set.nextClear(p, stop);
      out.setRange(p - base, q - base);
      if (q >= stop) break;
      p = set.nextSet(q, stop);
    }
  }
  return out;
}
