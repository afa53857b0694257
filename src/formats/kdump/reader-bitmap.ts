/**
 * A kdump input's bitmaps read from the file on demand instead of whole: a bitmap is
 * max_mapnr/8 bytes (2 GiB each at 2^34 pfns), so holding it would make the reader's memory
 * proportional to max_mapnr. What is kept is one count per block of BLOCK_PFNS pfns (for the
 * descriptor index: the 2nd bitmap's rank, and for skipping empty or full blocks) and a few
 * cached blocks; a window of bits is read straight into the caller's buffer.
 */
import { Bitmap } from '../../io/bitmap.js';
import type { ByteSource } from '../../io/file.js';
import type { PfnRanges, PfnSet } from '../../io/pfn-set.js';

/** Pfns per block of the count index (32 KiB of bitmap): 8 bytes per 2^18 pfns. */
export const BLOCK_PFNS = 2 ** 18;
const BLOCK_BYTES = BLOCK_PFNS / 8;
/** Cached blocks (direct-mapped by block number). */
const SLOTS = 4;
/** Bytes read at a time while counting (a few blocks). */
const SCAN_BYTES = 32 * BLOCK_BYTES;

const ZEROS = Buffer.alloc(BLOCK_BYTES);

/** Set bits of a byte. */
const POP8 = (() => {
  const t = new Uint8Array(256);
  for (let i = 1; i < 256; i++) t[i] = (i & 1) + t[i >>> 1]!;
  return t;
})();

/** Set bits of `b[s, e)` (zero runs skipped eight bytes at a time). */
function popcount(b: Uint8Array, s: number, e: number): number {
  let n = 0;
  let i = s;
  for (; i + 8 <= e; i += 8) {
    if ((b[i]! | b[i + 1]! | b[i + 2]! | b[i + 3]! | b[i + 4]! | b[i + 5]! | b[i + 6]! | b[i + 7]!) === 0) continue;
    for (let j = i; j < i + 8; j++) n += POP8[b[j]!]!;
  }
  for (; i < e; i++) n += POP8[b[i]!]!;
  return n;
}

/** One bitmap of `nbits` bits stored at byte `offset` of `source`. */
export class FileBitmap implements PfnSet {
  /** rank[b]: set bits below pfn b * BLOCK_PFNS. */
  private readonly rank: Float64Array;
  private readonly nblocks: number;
  private readonly slotBlock = new Float64Array(SLOTS).fill(-1);
  private readonly slots: Bitmap[] = [];

  constructor(
    private readonly source: ByteSource,
    private readonly offset: number,
    readonly nbits: number,
  ) {
    this.nblocks = Math.ceil(nbits / BLOCK_PFNS);
    this.rank = new Float64Array(this.nblocks + 1);
    for (let i = 0; i < SLOTS; i++) this.slots.push(new Bitmap(BLOCK_PFNS));
    this.countBlocks();
  }

  /** One pass over the file's bytes: the count of every block. */
  private countBlocks(): void {
    const totalBytes = Math.ceil(this.nbits / 8);
    const buf = Buffer.alloc(Math.min(SCAN_BYTES, Math.max(1, totalBytes)));
    for (let at = 0; at < totalBytes; at += buf.length) {
      const len = Math.min(buf.length, totalBytes - at);
      const got = this.source.readSome(this.offset + at, len, buf);
      buf.fill(0, got, len);
      if (at + len === totalBytes) buf[len - 1]! &= this.lastByteMask();
      for (let o = 0; o < len; o += BLOCK_BYTES) {
        const b = (at + o) / BLOCK_BYTES;
        const e = Math.min(len, o + BLOCK_BYTES);
        // Empty blocks (most of a sparse pfn space) by a native compare.
        const empty = e - o === BLOCK_BYTES && ZEROS.equals(buf.subarray(o, e));
        this.rank[b + 1] = this.rank[b]! + (empty ? 0 : popcount(buf, o, e));
      }
    }
  }

  /** The bits of the last byte below nbits. */
  private lastByteMask(): number {
    return this.nbits % 8 === 0 ? 0xff : (1 << (this.nbits % 8)) - 1;
  }

  /** Set bits in block b. */
  private inBlock(b: number): number {
    return this.rank[b + 1]! - this.rank[b]!;
  }

  /** Pfns in block b (the last one may be short). */
  private blockLen(b: number): number {
    return Math.min(BLOCK_PFNS, this.nbits - b * BLOCK_PFNS);
  }

  /** Block b's bits (bit i = pfn b * BLOCK_PFNS + i), from the cache or the file. */
  private block(b: number): Bitmap {
    const slot = b % SLOTS;
    const bm = this.slots[slot]!;
    if (this.slotBlock[slot] === b) return bm;
    const len = Math.ceil(this.blockLen(b) / 8);
    const got = this.source.readSome(this.offset + b * BLOCK_BYTES, len, bm.bytes);
    bm.bytes.fill(0, got);
    if (b === this.nblocks - 1) bm.bytes[len - 1]! &= this.lastByteMask();
    this.slotBlock[slot] = b;
    return bm;
  }

  get(pfn: number): boolean {
    if (!(pfn >= 0 && pfn < this.nbits)) return false;
    const b = Math.floor(pfn / BLOCK_PFNS);
    return this.inBlock(b) !== 0 && this.block(b).get(pfn - b * BLOCK_PFNS);
  }

  nextSet(i: number, end = this.nbits): number {
    const stop = Math.min(end, this.nbits);
    i = Math.max(0, i);
    for (let b = Math.floor(i / BLOCK_PFNS); b * BLOCK_PFNS < stop; b++) {
      if (this.inBlock(b) === 0) continue;
      const base = b * BLOCK_PFNS;
      const q = this.block(b).nextSet(Math.max(0, i - base), Math.min(stop - base, BLOCK_PFNS));
      if (q >= 0) return base + q;
    }
    return -1;
  }

  nextClear(i: number, end = this.nbits): number {
    const stop = Math.min(end, this.nbits);
    i = Math.max(0, i);
    for (let b = Math.floor(i / BLOCK_PFNS); b * BLOCK_PFNS < stop; b++) {
      const base = b * BLOCK_PFNS;
      if (this.inBlock(b) === this.blockLen(b)) continue;
      const hi = Math.min(stop - base, BLOCK_PFNS);
      const q = this.inBlock(b) === 0 ? Math.max(0, i - base) : this.block(b).nextClear(Math.max(0, i - base), hi);
      if (q < hi) return base + q;
    }
    return stop;
  }

  /**
   * Set bits below `pfn` (0 ≤ pfn ≤ nbits). Descriptor lookups go up in pfn order: the last
   * answer is kept, so the next one in its block counts only the bits between the two.
   */
  rankOf(pfn: number): number {
    if (pfn >= this.nbits) return this.rank[this.nblocks]!;
    const b = Math.floor(pfn / BLOCK_PFNS);
    const base = b * BLOCK_PFNS;
    if (pfn === base || this.inBlock(b) === 0) return this.rank[b]!;
    const from = this.memoPfn >= base && this.memoPfn <= pfn ? this.memoPfn : base;
    const r = (from === base ? this.rank[b]! : this.memoRank) + this.block(b).count(from - base, pfn - base);
    this.memoPfn = pfn;
    this.memoRank = r;
    return r;
  }
  private memoPfn = -1;
  private memoRank = 0;

  count(start = 0, end = this.nbits): number {
    const s = Math.max(0, start);
    const e = Math.min(end, this.nbits);
    if (e <= s) return 0;
    const below = this.rankOf(s);
    return this.rankOf(e) - below;
  }

  /** Copy the bits of [base, base + out.nbits) into `out` (base a multiple of 8; out zeroed). */
  fillWindow(base: number, out: Bitmap): void {
    const end = Math.min(this.nbits, base + out.nbits);
    if (end <= base || this.count(base, end) === 0) return;
    const len = Math.ceil((end - base) / 8);
    const got = this.source.readSome(this.offset + base / 8, len, out.bytes);
    out.bytes.fill(0, got, len);
    // Bits past the window or past nbits read as clear.
    if ((end - base) % 8 !== 0) out.bytes[len - 1]! &= (1 << ((end - base) % 8)) - 1;
  }

  /** The whole bitmap in memory (max_mapnr/8 bytes: for whole-dump commands, not the filter). */
  toBitmap(): Bitmap {
    const bm = new Bitmap(this.nbits);
    this.fillWindow(0, bm);
    return bm;
  }
}

/**
 * The pfns of a kdump input whose data this file holds: the 2nd bitmap within the split part's
 * range [lo, hi), less the `lost` pages of a truncated file.
 */
export class StoredPfns implements PfnSet {
  constructor(
    private readonly bits: FileBitmap,
    private readonly lo: number,
    private readonly hi: number,
    private readonly lost: PfnRanges | null,
  ) {}
  get nbits(): number {
    return this.bits.nbits;
  }
  get(pfn: number): boolean {
    return pfn >= this.lo && pfn < this.hi && this.bits.get(pfn) && !(this.lost?.get(pfn) ?? false);
  }
  nextSet(i: number, end = this.nbits): number {
    const stop = Math.min(end, this.hi);
    for (let p = Math.max(i, this.lo); p < stop; ) {
      p = this.bits.nextSet(p, stop);
      if (p < 0 || !this.lost?.get(p)) return p;
      p = this.lost.nextClear(p, stop);
    }
    return -1;
  }
  nextClear(i: number, end = this.nbits): number {
    const stop = Math.min(end, this.nbits);
    if (i < this.lo || i >= this.hi) return Math.min(Math.max(i, 0), stop);
    const q = this.bits.nextClear(i, Math.min(stop, this.hi));
    const l = this.lost?.nextSet(i, q) ?? -1;
    return l >= 0 ? l : q;
  }
  count(start = 0, end = this.nbits): number {
    const s = Math.max(start, this.lo);
    const e = Math.min(end, this.hi);
    if (e <= s) return 0;
    let n = this.bits.count(s, e);
    // Lost pages are all stored pfns (bits of the 2nd bitmap).
    if (this.lost) n -= this.lost.count(s, e);
    return n;
  }
  fillWindow(base: number, out: Bitmap): void {
    this.bits.fillWindow(base, out);
    const end = base + out.nbits;
    if (this.lo > base) out.clearRange(0, Math.min(out.nbits, this.lo - base));
    if (this.hi < end) out.clearRange(Math.max(0, this.hi - base), out.nbits);
    if (!this.lost) return;
    for (let p = this.lost.nextSet(base, end); p >= 0; ) {
      const q = this.lost.nextClear(p, end);
      out.clearRange(p - base, q - base);
      if (q >= end) break;
      p = this.lost.nextSet(q, end);
    }
  }
  toBitmap(): Bitmap {
    const bm = new Bitmap(this.nbits);
    this.fillWindow(0, bm);
    return bm;
  }
}
