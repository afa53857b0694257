/**
 * makedumpfile's dump levels (FORMATS.md §4.1) as a policy over page classes, and the
 * 2nd bitmap ("dumpable" pfns) it implies. Zero pages (bit 1) are excluded later, by content.
 */
import { VmcoreError } from '../errors.js';
import { Bitmap } from '../io/bitmap.js';
import { CLASS_NAMES, NR_CLASSES, PageClass, type PageClassName } from './classes.js';
import type { Classification } from './classify.js';

export const DL_EXCLUDE_ZERO = 1;
export const DL_EXCLUDE_CACHE = 2;
export const DL_EXCLUDE_CACHE_PRI = 4;
export const DL_EXCLUDE_USER_DATA = 8;
export const DL_EXCLUDE_FREE = 16;
export const MAX_DUMP_LEVEL = 31;

/**
 * Classes excluded at every level: their contents are stale or must not be read, or (no struct
 * page) they are not memory the kernel managed.
 */
export const ALWAYS_EXCLUDED: readonly PageClassName[] = ['offline', 'hinted', 'hwpoison', 'no_struct_page'];

function checkLevel(level: number): void {
  if (!Number.isInteger(level) || level < 0 || level > MAX_DUMP_LEVEL) {
    throw new VmcoreError('E_USAGE', `Dump_level(${level}) is invalid: expected 0..31`, { option: '-d' });
  }
}

/** The page classes a dump level excludes (zero pages are not a class: bit 1 is handled by content). */
export function excludedClasses(level: number): Set<PageClassName> {
  checkLevel(level);
  const s = new Set<PageClassName>(ALWAYS_EXCLUDED);
  if (level & DL_EXCLUDE_CACHE) s.add('cache');
  if (level & DL_EXCLUDE_CACHE_PRI) {
    s.add('cache');
    s.add('cache_private');
  }
  if (level & DL_EXCLUDE_USER_DATA) {
    s.add('user');
    s.add('hugetlb');
  }
  if (level & DL_EXCLUDE_FREE) s.add('free');
  return s;
}

/** Per-class-id lookup: 1 if the class is dumped at `level`. Holes are never dumped. */
export function dumpableTable(level: number): Uint8Array {
  const ex = excludedClasses(level);
  const t = new Uint8Array(256);
  for (let id = 0; id < NR_CLASSES; id++) t[id] = ex.has(CLASS_NAMES[id]!) ? 0 : 1;
  t[PageClass.hole] = 0;
  return t;
}

/**
 * The 2nd bitmap: pfns with data in the input whose class `level` keeps. Unknown pages are
 * always kept. Zero pages keep their bit here; the writer drops or shares them by content.
 */
export function buildDumpableBitmap(c: Pick<Classification, 'maxMapnr' | 'classOf'>, level: number, reuse?: Bitmap): Bitmap {
  const t = dumpableTable(level);
  // A window's bitmap may be built into the previous one's (the windows' contract: valid until
  // the next is taken): one allocation per walk, not one per window.
  const bm = reuse && reuse.nbits === c.maxMapnr ? reuse : new Bitmap(c.maxMapnr);
  const bytes = bm.bytes;
  if (bm === reuse) bytes.fill(0);
  const cls = c.classOf;
  const n = c.maxMapnr;
  const full = n & ~7;
  for (let s = 0; s < full; s += HOLE_RUN) {
    const e = Math.min(full, s + HOLE_RUN);
    // Runs of holes (class 0, never dumped) fill a sparse pfn space: skipped by a native compare.
    if (e - s === HOLE_RUN && HOLES.equals(cls.subarray(s, e))) continue;
    dumpableBits(t, cls, bytes, s, e);
  }
  for (let i = full; i < n; i++) if (t[cls[i]!]) bm.set(i);
  return bm;
}

/** Pfns compared at once against {@link HOLES}. */
const HOLE_RUN = 4096;
const HOLES = Buffer.alloc(HOLE_RUN);

/** Bits [s, e) (multiples of 8) of the 2nd bitmap from the classes, by the level's table `t`. */
function dumpableBits(t: Uint8Array, cls: Uint8Array, bytes: Uint8Array, s: number, e: number): void {
  for (let i = s; i < e; i += 8) {
    bytes[i >>> 3] =
      t[cls[i]!]! |
      (t[cls[i + 1]!]! << 1) |
      (t[cls[i + 2]!]! << 2) |
      (t[cls[i + 3]!]! << 3) |
      (t[cls[i + 4]!]! << 4) |
      (t[cls[i + 5]!]! << 5) |
      (t[cls[i + 6]!]! << 6) |
      (t[cls[i + 7]!]! << 7);
  }
}

/** Pages of each class a level excludes, and the total (zero pages not included). */
export function excludedCounts(c: Pick<Classification, 'counts'>, level: number): { byClass: Partial<Record<PageClassName, number>>; total: number } {
  const ex = excludedClasses(level);
  const byClass: Partial<Record<PageClassName, number>> = {};
  let total = 0;
  for (const n of ex) {
    byClass[n] = c.counts[n];
    total += c.counts[n];
  }
  return { byClass, total };
}
