/**
 * The walk over a dump's pfns, one window at a time: the dump's ranges in pfn order
 * (usable sections, gaps, unusable sections), each window's pass over them (the struct-page
 * {@link Scanner} for sections, {@link ClassWalk.gap} for pfns without usable struct pages),
 * and counting. State between windows is the scanner's pending head range and the counts.
 */
import { VmcoreError } from '../errors.js';
import { Bitmap } from '../io/bitmap.js';
import { windowBits, type PfnSet } from '../io/pfn-set.js';
import type { MemMap, UnusableSection } from '../mm/memmap.js';
import type { PageFlagBits, StructPageLayout } from '../mm/layout.js';
import type { PageTypeDecoder } from '../mm/pagetype.js';
import type { CompoundDecoder } from '../mm/compound.js';
import { CLASS_NAMES, NR_CLASSES, PageClass, emptyCounts } from './classes.js';
import type { FreeListResult } from './freelist.js';
import type { ClassSummary, UnknownReason } from './classify.js';
import { SCAN_REASONS, Scanner } from './scan.js';

/** A pfn range of the walk: a usable section to scan (reason null), or pfns kept for `reason`. */
export interface Segment {
  s: number;
  e: number;
  reason: UnknownReason | null;
}

/** What the struct-page scan needs, decided once per dump. */
export interface ScanPlan {
  layout: StructPageLayout;
  flags: PageFlagBits;
  pt: PageTypeDecoder;
  compound: CompoundDecoder;
  memmap: MemMap;
  reportedBit: number | undefined;
  nrOrders: number;
  freeLists: FreeListResult | null;
}

/**
 * End of the kernel's memory map. Memory with no struct page: pfns above it (past the last
 * section that is present, whether or not its mem_map could be read), where mem_section says
 * nothing is. The kernel never managed them as RAM: in a hypervisor's dump these are device
 * memory and firmware (QEMU's VGA framebuffer at 0xfd000000, the BIOS ROM below 4 GiB);
 * /proc/vmcore has no such PT_LOAD at all, and makedumpfile 1.7.2 leaves them out of max_mapnr.
 * They are excluded at every level. A section marked not present *between* present ones stays
 * undecided and kept: a flipped present bit must not lose RAM. For the same reason a run of the
 * input's memory that crosses managedEnd (RAM whose last section lost its present bit) stays
 * undecided up to its end: only memory in ranges wholly above the map is not RAM.
 */
export function managedEndOf(memmap: MemMap, present: PfnSet, maxMapnr: number): number {
  let managedEnd = 0;
  for (const sec of memmap.sections) managedEnd = Math.max(managedEnd, sec.endPfn);
  for (const u of memmap.unusable) if (u.reason !== 'section_not_present') managedEnd = Math.max(managedEnd, u.endPfn);
  if (managedEnd > 0 && managedEnd < maxMapnr && present.get(managedEnd - 1) && present.get(managedEnd)) {
    const runEnd = present.nextClear(managedEnd);
    managedEnd = runEnd < 0 ? maxMapnr : runEnd;
  }
  return managedEnd;
}

/**
 * The walk's ranges in pfn order: usable sections and the gaps and unusable sections between
 * them. Bounded by the number of sections the dump has (unusable runs are merged, see memmap.ts).
 */
export function segmentsOf(memmap: MemMap, present: PfnSet, maxMapnr: number, lookahead: number): Segment[] {
  const out: Segment[] = [];
  const gap = (s: number, e: number, reason: UnknownReason) => {
    if (e > s) out.push({ s, e, reason });
  };
  let next = 0; // first pfn not yet handled
  const unusable = memmap.unusable;
  let ui = 0;
  const takeUnusable = (u: UnusableSection) => {
    if (u.startPfn > next) gap(next, u.startPfn, 'no_mem_map');
    gap(Math.max(next, u.startPfn), u.endPfn, u.reason);
    next = Math.max(next, u.endPfn);
  };
  for (const sec of memmap.sections) {
    while (ui < unusable.length && unusable[ui]!.startPfn < sec.startPfn) takeUnusable(unusable[ui++]!);
    if (sec.startPfn > next) gap(next, sec.startPfn, 'no_mem_map');
    // A section without present pfns is still read when present pfns follow closely: a free
    // block headed in it may continue into them.
    if (present.nextSet(sec.startPfn, sec.endPfn + lookahead) >= 0) out.push({ s: sec.startPfn, e: sec.endPfn, reason: null });
    next = Math.max(next, sec.endPfn);
  }
  while (ui < unusable.length) takeUnusable(unusable[ui++]!);
  if (next < maxMapnr) gap(next, maxMapnr, 'no_mem_map');
  return out;
}

/** A dump's decisions ({@link summary}) and the means to walk its pfns window by window. */
export class Classifier {
  constructor(
    /** Everything but the counts (filled by a walk's {@link ClassWalk.finish}). */
    readonly summary: ClassSummary,
    private readonly plan: ScanPlan | null,
    readonly readable: PfnSet,
    private readonly segments: readonly Segment[],
    private readonly managedEnd: number,
  ) {}
  /** Pfns per section of the memory model (windows are best cut at section boundaries). */
  get pagesPerSection(): number {
    return this.plan?.memmap.pagesPerSection ?? 32768;
  }
  /** A new walk from pfn 0 (its own scan state and counts). */
  walk(): ClassWalk {
    const p = this.plan;
    const scan = p
      ? new Scanner(p.layout, p.flags, p.pt, p.compound, p.memmap, this.readable, this.summary.maxMapnr, p.reportedBit, p.nrOrders, p.freeLists)
      : null;
    return new ClassWalk(this.summary, scan, this.readable, this.segments, this.managedEnd);
  }
}

/**
 * One walk over the pfns in ascending, adjacent windows. Pass by pass per window: decode struct
 * pages and decide by page-type scheme (the {@link Scanner}: typed pages, compound heads and
 * buddy blocks whose range runs into the next window carry over), pfns without usable struct
 * pages ({@link gap}), then counting ({@link count}).
 */
export class ClassWalk {
  /** Unknown pages by reason, in the order reasons were first met (the report keeps it). */
  private readonly reasons = new Map<UnknownReason, number>();
  private readonly counts = new Float64Array(NR_CLASSES);
  /** Highest pfn whose class is neither `hole` nor `no_struct_page` (-1: none yet). */
  lastKept = -1;
  private si = 0;
  private nextPfn = 0;
  private readonly scratch = { bytes: new Uint8Array(0) };
  private out: Uint8Array = new Uint8Array(0);
  private base = 0;
  private wp: Bitmap = new Bitmap(0);
  /** A buffer known to hold only holes in its first cleanLen bytes (skipped windows). */
  private cleanOut: Uint8Array | null = null;
  private cleanLen = 0;

  constructor(
    private readonly c: ClassSummary,
    private readonly scan: Scanner | null,
    private readonly readable: PfnSet,
    private readonly segments: readonly Segment[],
    private readonly managedEnd: number,
  ) {
    if (scan) for (const r of SCAN_REASONS) this.reasons.set(r, 0);
  }

  /** Classify [base, end) into out[0 .. end - base) (base a multiple of 8, = the previous end). */
  window(base: number, end: number, out: Uint8Array): void {
    if (base !== this.nextPfn || base % 8 !== 0 || end < base || end > this.c.maxMapnr || out.length < end - base) {
      throw new VmcoreError('E_INTERNAL', `window [${base}, ${end}) does not follow ${this.nextPfn} or does not fit`);
    }
    this.nextPfn = end;
    if (this.readable.nextSet(base, end) < 0) {
      // No readable pfn: all holes, whatever the sections say. A sparse 2^34-pfn space is
      // mostly such windows: neither scanned nor counted pfn by pfn.
      while (this.si < this.segments.length && this.segments[this.si]!.e <= end) this.si++;
      if (this.cleanOut !== out || this.cleanLen < end - base) out.fill(PageClass.hole, 0, end - base);
      this.cleanOut = out;
      this.cleanLen = Math.max(this.cleanLen, end - base);
      this.counts[PageClass.hole]! += end - base;
      return;
    }
    this.cleanOut = null;
    this.cleanLen = 0;
    out.fill(PageClass.hole, 0, end - base);
    this.out = out;
    this.base = base;
    this.wp = windowBits(this.readable, base, end, this.scratch);
    this.scan?.setWindow(base, out, this.wp);
    while (this.si < this.segments.length) {
      const g = this.segments[this.si]!;
      if (g.s >= end) break;
      const s = Math.max(g.s, base);
      const e = Math.min(g.e, end);
      if (e > s) {
        if (g.reason === null) this.scan!.section(s, e);
        else this.gap(s, e, g.reason);
      }
      if (g.e > end) break;
      this.si++;
    }
    this.count(end - base);
  }

  /** Pfns of [s, e) (inside the window) without usable struct pages. */
  private gap(s: number, e: number, reason: UnknownReason): void {
    const scan = this.scan;
    // A pending head range still decides them.
    if (scan && s < scan.pendingEnd) {
      const pe = Math.min(e, scan.pendingEnd);
      this.setPresent(s, pe, scan.pendingClass);
      s = pe;
    }
    if (this.managedEnd > 0 && (reason === 'section_not_present' || reason === 'no_mem_map') && e > this.managedEnd) {
      const from = Math.max(s, this.managedEnd);
      this.setPresent(from, e, PageClass.no_struct_page);
      e = from;
    }
    if (s < e) {
      const n = this.setPresent(s, e, PageClass.unknown);
      this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + n);
    }
  }

  /** Class `cls` for the present pfns of [s, e); returns how many. */
  private setPresent(s: number, e: number, cls: number): number {
    const wp = this.wp;
    const le = e - this.base;
    let n = 0;
    for (let p = wp.nextSet(s - this.base, le); p >= 0; ) {
      const q = wp.nextClear(p, le);
      this.out.fill(cls, p, q);
      n += q - p;
      if (q >= le) break;
      p = wp.nextSet(q, le);
    }
    return n;
  }

  /** Add the window's classes to the counts. */
  private count(n: number): void {
    const out = this.out;
    const part = new Int32Array(NR_CLASSES);
    // Holes (class 0) fill most of a sparse or corrupt pfn space: zero words are skipped four pfns at a time.
    const words = out.byteOffset % 4 === 0 ? new Uint32Array(out.buffer, out.byteOffset, Math.floor(n / 4)) : null;
    // In int32 blocks of 2^30 pfns, which cannot overflow, added up in doubles.
    for (let s = 0; s < n; s += 2 ** 30) {
      part.fill(0);
      countClasses(out, words, s, Math.min(n, s + 2 ** 30), part);
      for (let k = 0; k < NR_CLASSES; k++) this.counts[k]! += part[k]!;
    }
    for (let i = n - 1; i >= 0; i--) {
      const k = out[i]!;
      if (k !== PageClass.hole && k !== PageClass.no_struct_page) {
        this.lastKept = this.base + i;
        break;
      }
    }
  }

  /** The summary with this walk's counts (call after the last window). */
  finish(): ClassSummary {
    const c: ClassSummary = { ...this.c, counts: emptyCounts(), reasons: {}, anomalies: { ...this.c.anomalies }, hintedBy: { combined: 0, reported: 0 } };
    for (let i = 0; i < NR_CLASSES; i++) c.counts[CLASS_NAMES[i]!] = this.counts[i]!;
    // The pfns below max_mapnr not walked (a caller that stopped early) are holes.
    c.counts.hole += Math.max(0, this.c.maxMapnr - this.nextPfn);
    const reasons = new Map(this.reasons);
    if (this.scan) {
      for (const [k, v] of Object.entries(this.scan.anomalies)) c.anomalies[k] = v;
      c.hintedBy = { ...this.scan.hintedBy };
      SCAN_REASONS.forEach((r, i) => reasons.set(r, this.scan!.reasonCounts[i]!));
    }
    for (const [r, n] of reasons) if (n > 0) c.reasons[r] = n;
    return c;
  }
}

/** 4 MiB of bitmap: windows of 2^25 pfns (128 GiB of 4 KiB pages), about 40 MiB of window state. */
export const DEFAULT_CYCLIC_BUFFER_KIB = 4096;

/** Window size in pfns for a cyclic buffer of `kib` KiB: whole sections when it holds one. */
export function windowPfns(kib: number, pagesPerSection: number): number {
  const pfns = Math.max(64, Math.floor(kib) * 1024 * 8);
  return pfns >= pagesPerSection ? Math.floor(pfns / pagesPerSection) * pagesPerSection : pfns;
}

/**
 * Add the classes of `classes[s, e)` to `into` (per class id; e - s < 2^31). Any s and e: the
 * aligned middle goes four pfns a word, skipping the runs of holes that fill a sparse window.
 */
export function addClassCounts(classes: Uint8Array, s: number, e: number, into: Float64Array): void {
  const part = new Int32Array(NR_CLASSES);
  let i = s;
  for (; i < e && (classes.byteOffset + i) % 4 !== 0; i++) part[classes[i]!]!++;
  const nw = Math.max(0, Math.floor((e - i) / 4));
  // (a range shorter than its alignment ends unaligned: no word view then)
  if (nw > 0) countClasses(classes, new Uint32Array(classes.buffer, classes.byteOffset + i, nw), 0, 4 * nw, part);
  for (i += 4 * nw; i < e; i++) part[classes[i]!]!++;
  for (let k = 0; k < NR_CLASSES; k++) into[k]! += part[k]!;
}

/**
 * Add the classes of pfns [s, e) to `part` (int32: e - s ≤ 2^30). `words` views `classOf` as
 * u32 (or is null). A function of its own: its loop is compiled on the stack (OSR) with
 * nothing after it that has not run yet, so it is not deoptimised on the way out.
 */
function countClasses(classOf: Uint8Array, words: Uint32Array | null, s: number, e: number, part: Int32Array): void {
  let i = s;
  if (words) {
    let zeros = 0;
    const ke = Math.floor(e / 4);
    for (let k = s / 4; k < ke; k++) {
      const x = words[k]!;
      if (x === 0) zeros += 4;
      else {
        part[x & 0xff]!++;
        part[(x >>> 8) & 0xff]!++;
        part[(x >>> 16) & 0xff]!++;
        part[x >>> 24]!++;
      }
    }
    part[PageClass.hole]! += zeros;
    i = ke * 4;
  }
  for (; i < e; i++) part[classOf[i]!]!++;
}

