/**
 * Page classification: one class per pfn, from one pass over mem_map in section-sized
 * batches (FORMATS.md §4.3, with hinted pages added). Rules, in order:
 *  - pfns the input does not hold are `hole`;
 *  - a pfn inside a range decided by an earlier head (buddy block, compound page) takes
 *    the head's class; a tail page outside any such range is kept (`unknown`, 'orphan_tail');
 *  - slab (PG_slab or the slab page type) vetoes buddy, offline and anon, as makedumpfile;
 *  - buddy head: `hinted` if it is also offline (inverted page-type scheme) or carries
 *    PG_reported (= PG_uptodate, its bit decided from the exported NUMBER(PG_*) layout, see
 *    mm/pageflags.ts, or given as `reportedBit`), else `free`, for the whole 2^private block
 *    (invalid order → kept);
 *    without PAGE_BUDDY_MAPCOUNT_VALUE, free blocks come from the zones' free lists;
 *  - unaccepted → `free` (a MAX_ORDER block);
 *  - hwpoison, then offline (excluded at every level, so they come before the level-dependent
 *    classes: the set of excluded pages is then the same as makedumpfile's at every level);
 *  - cache (PG_lru, or PG_swapcache with PG_swapbacked) and not anon → `cache` / `cache_private`;
 *  - anon (mapping bit 0) → `user`; hugetlb head → `hugetlb`; slab → `slab`; else `kernel`.
 * A compound head decides its whole 2^order range (order from page[1]; ≥ 64 or misaligned →
 * order 0). Pages whose struct page cannot be read, or whose section has no usable mem_map,
 * are `unknown` with the reason counted: they are kept, never dropped on a guess.
 */
import { VmcoreError } from '../errors.js';
import { readablePfns, type DumpReader } from '../formats/dump.js';
import { Bitmap } from '../io/bitmap.js';
import { windowBits, type PfnSet } from '../io/pfn-set.js';
import { parseVmcoreinfo, type Vmcoreinfo } from '../vmcoreinfo/parse.js';
import { KernelMemory } from '../memory/kernel.js';
import { locateMemMap, type MemMap, type MemoryModel, type UnreadableRange, type UnusableSection } from '../mm/memmap.js';
import {
  pageFlagBitsFromVmcoreinfo,
  structPageLayoutFromVmcoreinfo,
  type PageFlagBits,
  type StructPageLayout,
} from '../mm/layout.js';
import { detectPageTypes, type PageTypeDecoder, type PageTypeName, type PageTypeScheme, type PageTypeTest } from '../mm/pagetype.js';
import { compoundDecoderFromVmcoreinfo, type CompoundDecoder } from '../mm/compound.js';
import { decideReportedBit, type ReportedBitDecision } from '../mm/pageflags.js';
import { CLASS_NAMES, NR_CLASSES, PageClass, emptyCounts, type PageClassName } from './classes.js';
import { missingFreeListKeys, walkFreeLists, type FreeListResult } from './freelist.js';

export interface ClassifyOptions {
  /** Dump level the caller will apply; recorded, and bit 16 decides whether free lists are walked. */
  dumpLevel: number;
  /**
   * The page->flags bit marking a buddy head as reported to the hypervisor (PG_reported):
   * such blocks are `hinted`. Undefined: decided from VMCOREINFO ({@link decideReportedBit});
   * null: not tested (`--reported-bit none`).
   */
  reportedBit?: number | null;
  /** Walk free lists even when the dump level does not exclude free pages (default: only with bit 16). */
  alwaysWalkFreeLists?: boolean;
}

/** Why a present page could not be decided (all such pages are `unknown` and kept). */
export type UnknownReason =
  | 'no_vmcoreinfo'
  | 'missing_struct_page_keys'
  | 'no_translation'
  | 'no_mem_map'
  | 'section_not_present'
  | 'root_unreadable'
  | 'mem_map_not_kernel_address'
  | 'mem_map_untranslatable'
  | 'struct_page_unmapped'
  | 'struct_page_not_in_dump'
  | 'invalid_order'
  | 'orphan_tail';

/** The result of classifying a dump. */
export interface Classification {
  maxMapnr: number;
  /** Class id (see {@link PageClass}) per pfn. */
  classOf: Uint8Array;
  /** Pages per class. `hole` counts pfns below max_mapnr the input holds no data for. */
  counts: Record<PageClassName, number>;
  /** Unknown pages by reason; sums to `counts.unknown`. */
  reasons: Partial<Record<UnknownReason, number>>;
  /** Oddities that did not make pages unknown (e.g. a compound order reset to 0). */
  anomalies: Record<string, number>;
  /**
   * The page-type encoding detected from the exported values (never from OSRELEASE), the keys
   * that decided it, and PAGE_TYPE_BASE in the inverted scheme (0xf0000000 or 0x80000000).
   */
  pageTypes: {
    scheme: PageTypeScheme;
    decidedBy: string[];
    values: PageTypeDecoder['values'];
    canEncodeHinted: boolean;
    base?: number;
    hintedValue?: number;
  } | null;
  /** How free pages were found. */
  freePagesBy: 'page_type' | 'free_lists' | 'none';
  /** How the PG_reported bit was decided (null: no usable VMCOREINFO and no option). */
  reported: ReportedBitDecision | null;
  /**
   * Hinted pages by the rule that found them (present pages of the block; a block that is
   * both BUDDY&OFFLINE and PG_reported counts in both).
   */
  hintedBy: { combined: number; reported: number };
  /** Which classes this dump lets us decide, and for the others, why not. */
  decidable: Record<PageClassName, boolean>;
  undecidable: Partial<Record<PageClassName, string>>;
  /** For each decidable class, the VMCOREINFO keys (or options) that decide it. */
  decidedBy: Partial<Record<PageClassName, string[]>>;
  memMap: { model: MemoryModel; sections: number; unusableSections: number; decidedBy: string[] } | null;
  /** Zero pages found by content (filled by the writer through {@link recordZeroPages}). */
  zero: { pages: number; byClass: Record<PageClassName, number> };
  dumpLevel: number;
  warnings: string[];
}

/** A classification without the per-pfn array: what a windowed walk reports. */
export type ClassSummary = Omit<Classification, 'classOf'>;

/** The reasons the struct-page scan finds (registered first: the report keeps this order). */
const SCAN_REASONS: readonly UnknownReason[] = ['invalid_order', 'orphan_tail', 'struct_page_unmapped', 'struct_page_not_in_dump'];

/** Record `count` zero-filled pages starting at `pfn` (called by whoever reads page data). */
export function recordZeroPages(c: Classification, pfn: number, count = 1): void {
  for (let p = pfn; p < pfn + count; p++) {
    c.zero.pages++;
    c.zero.byClass[CLASS_NAMES[c.classOf[p]!]!]++;
  }
}

const ALL_FALSE = (): Record<PageClassName, boolean> => {
  const r = {} as Record<PageClassName, boolean>;
  for (const n of CLASS_NAMES) r[n] = false;
  return r;
};

/**
 * Classify every pfn of `reader` into one whole-dump array (max_mapnr bytes: for `info`,
 * `stats` and `map`; the filter walks windows, see {@link prepareClassifier}). Never throws
 * for dump content: undecidable pages are `unknown`.
 */
export function classifyDump(reader: DumpReader, opts: ClassifyOptions): Classification {
  const k = prepareClassifier(reader, opts);
  const maxMapnr = reader.maxMapnr;
  let classOf: Uint8Array;
  try {
    classOf = new Uint8Array(maxMapnr);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new VmcoreError('E_LIMIT', `classifying ${maxMapnr} pfns needs ${maxMapnr} bytes, more than this process can allocate`);
  }
  const w = k.walk();
  w.window(0, maxMapnr, classOf);
  return { ...w.finish(), classOf };
}

/**
 * Everything decided before the first struct page is read (what the dump lets us decide, where
 * mem_map is, the free lists), and the walk over mem_map that classifies one pfn window at a
 * time: memory is the window, not max_mapnr. Never throws for dump content.
 */
export function prepareClassifier(reader: DumpReader, opts: ClassifyOptions): Classifier {
  if (opts.reportedBit !== undefined && opts.reportedBit !== null && !(Number.isInteger(opts.reportedBit) && opts.reportedBit >= 0 && opts.reportedBit < 64)) {
    throw new VmcoreError('E_USAGE', `reported bit ${opts.reportedBit} is not a page->flags bit (0..63)`, { option: '--reported-bit' });
  }
  const maxMapnr = reader.maxMapnr;
  // Pages an earlier filter excluded (a kdump input's 1st-but-not-2nd bitmap) have no data:
  // like holes, they cannot be written, so they are classed `hole` too.
  const present = readablePfns(reader);
  const c: ClassSummary = {
    maxMapnr,
    counts: emptyCounts(),
    reasons: {},
    anomalies: {},
    pageTypes: null,
    freePagesBy: 'none',
    reported: opts.reportedBit === undefined ? null : { bit: opts.reportedBit, by: 'option' } as ReportedBitDecision,
    hintedBy: { combined: 0, reported: 0 },
    decidable: ALL_FALSE(),
    undecidable: {},
    decidedBy: {},
    memMap: null,
    zero: { pages: 0, byClass: emptyCounts() },
    dumpLevel: opts.dumpLevel,
    warnings: [],
  };
  c.decidable.hole = true;
  c.decidable.unknown = true;
  const giveUp = (reason: UnknownReason, why: string) => {
    c.warnings.push(why);
    for (const n of CLASS_NAMES) if (!c.decidable[n]) c.undecidable[n] = why;
    return new Classifier(c, null, present, [{ s: 0, e: maxMapnr, reason }], 0);
  };

  // --- What this dump lets us decide. ---
  let vi: Vmcoreinfo;
  try {
    if (reader.vmcoreinfoText === null) return giveUp('no_vmcoreinfo', 'the dump has no VMCOREINFO: every page is kept');
    vi = parseVmcoreinfo(reader.vmcoreinfoText);
  } catch (e) {
    if (!(e instanceof VmcoreError)) throw e;
    return giveUp('no_vmcoreinfo', `VMCOREINFO unusable (${e.message}): every page is kept`);
  }
  let layout: StructPageLayout;
  try {
    layout = structPageLayoutFromVmcoreinfo(vi);
  } catch (e) {
    if (!(e instanceof VmcoreError)) throw e;
    return giveUp('missing_struct_page_keys', `${e.message}: every page is kept`);
  }
  let flags: PageFlagBits;
  try {
    flags = pageFlagBitsFromVmcoreinfo(vi);
  } catch (e) {
    if (!(e instanceof VmcoreError)) throw e;
    flags = lenientFlagBits(vi);
    c.warnings.push(`${e.message}: cache pages cannot be told apart and are kept as kernel pages`);
  }
  if (opts.reportedBit === undefined) c.reported = decideReportedBit(vi);
  const reportedBit = c.reported!.bit ?? undefined;
  const pt = detectPageTypes(vi);
  c.pageTypes = { scheme: pt.scheme, decidedBy: pt.decidedBy, values: pt.values, canEncodeHinted: pt.canEncodeHinted };
  if (pt.base !== undefined) c.pageTypes.base = pt.base;
  if (pt.hintedValue !== undefined) c.pageTypes.hintedValue = pt.hintedValue;
  const compound = compoundDecoderFromVmcoreinfo(vi, layout, pt);

  let mem: KernelMemory;
  try {
    mem = new KernelMemory(reader, vi);
  } catch (e) {
    if (!(e instanceof VmcoreError)) throw e;
    return giveUp('no_translation', `${e.message}: every page is kept`);
  }
  let memmap: MemMap;
  try {
    memmap = locateMemMap(mem, vi, maxMapnr);
  } catch (e) {
    if (!(e instanceof VmcoreError)) throw e;
    return giveUp('no_mem_map', `${e.message}: every page is kept`);
  }
  c.memMap = { model: memmap.model, sections: memmap.sections.length, unusableSections: memmap.unusableSections, decidedBy: memmap.decidedBy };
  // Not one section's mem_map can be read: say why, once. A VMCOREINFO from another boot (KASLR
  // moves the kernel) or another kernel points mem_section at memory this dump does not hold.
  // (A truncated input says why in its own warning.)
  if (memmap.sections.length === 0 && memmap.unusable.length > 0 && !(reader.warnings ?? []).some((w) => w.code === 'truncated')) {
    const u = memmap.unusable.find((x) => x.reason !== 'section_not_present') ?? memmap.unusable[0]!;
    c.warnings.push(`no section's mem_map can be read (${u.reason}${u.detail ? `: ${u.detail}` : ''}): every page is kept; is the VMCOREINFO this boot's?`);
  }

  const nrOrdersExported = vi.length('zone.free_area');
  const nrOrders = nrOrdersExported ?? 11;
  if (nrOrdersExported === undefined) c.warnings.push('VMCOREINFO lacks LENGTH(zone.free_area): assuming 11 buddy orders');

  const hasBuddy = pt.values.buddy !== undefined;
  let freeLists: FreeListResult | null = null;
  if (hasBuddy) {
    c.freePagesBy = 'page_type';
  } else {
    const missing = missingFreeListKeys(vi);
    if (missing.length) {
      c.undecidable.free = `no NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE), and a free-list walk needs ${missing.join(', ')}`;
      c.warnings.push(`free pages cannot be found: ${c.undecidable.free}`);
    } else if (opts.dumpLevel & 16 || opts.alwaysWalkFreeLists) {
      freeLists = walkFreeLists(vi, mem, memmap, maxMapnr);
      c.freePagesBy = 'free_lists';
      c.warnings.push(...freeLists.warnings);
    } else {
      c.undecidable.free = 'no NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE); free lists are walked only when the dump level excludes free pages';
    }
  }

  // Decidability summary.
  const d = c.decidable;
  d.kernel = true;
  // Decided from mem_section alone (see the scan below).
  d.no_struct_page = true;
  d.cache = d.cache_private = d.user = flags.lru >= 0;
  if (!d.cache) c.undecidable.cache = c.undecidable.cache_private = c.undecidable.user = 'VMCOREINFO lacks page flag numbers';
  d.free = c.freePagesBy !== 'none';
  d.hinted = pt.canEncodeHinted || reportedBit !== undefined;
  if (!d.hinted) {
    const r = c.reported!;
    const flag =
      r.by === 'unknown'
        ? `reported free pages carry PG_reported = PG_uptodate, whose position is unknown: ${r.why} (give it with --reported-bit N)`
        : 'PG_reported not tested (--reported-bit none)';
    c.undecidable.hinted =
      pt.scheme === 'inverted'
        ? `NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE) not exported, and ${flag}`
        : pt.scheme === 'top-byte'
          ? `page-type scheme 'top-byte' holds one type per page (no buddy+offline); ${flag}`
          : `page-type scheme '${pt.scheme}' cannot encode buddy+offline; ${flag}`;
  }
  d.offline = pt.values.offline !== undefined;
  if (!d.offline) c.undecidable.offline = 'NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE) not exported';
  d.hwpoison = flags.hwpoison !== undefined;
  if (!d.hwpoison) c.undecidable.hwpoison = 'NUMBER(PG_hwpoison) not exported';
  d.slab = flags.slab !== undefined || pt.values.slab !== undefined;
  if (!d.slab) c.undecidable.slab = 'neither NUMBER(PG_slab) nor NUMBER(PAGE_SLAB_MAPCOUNT_VALUE) exported';
  d.hugetlb = compound.hugetlbBy !== null && flags.headMask !== 0n;
  if (!d.hugetlb) c.undecidable.hugetlb = 'no hugetlb marker (PAGE_HUGETLB_MAPCOUNT_VALUE, PG_hugetlb, HUGETLB_PAGE_DTOR) or PG_head_mask exported';
  if (flags.headMask === 0n) c.warnings.push('VMCOREINFO lacks NUMBER(PG_head_mask): compound pages are decided page by page');
  c.decidedBy = decidingKeys(c, vi, compound);
  if (compound.orderBy === null && flags.headMask !== 0n) c.warnings.push('no compound order available: compound heads are treated as order 0');

  const plan: ScanPlan = { layout, flags, pt, compound, memmap, reportedBit, nrOrders, freeLists };
  const managedEnd = managedEndOf(memmap, present, maxMapnr);
  return new Classifier(c, plan, present, segmentsOf(memmap, present, maxMapnr, 2 ** (nrOrders - 1)), managedEnd);
}

/** A pfn range of the walk: a usable section to scan (reason null), or pfns kept for `reason`. */
interface Segment {
  s: number;
  e: number;
  reason: UnknownReason | null;
}

/** What the struct-page scan needs, decided once per dump. */
interface ScanPlan {
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
function managedEndOf(memmap: MemMap, present: PfnSet, maxMapnr: number): number {
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
function segmentsOf(memmap: MemMap, present: PfnSet, maxMapnr: number, lookahead: number): Segment[] {
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

/** The keys that decide each decidable class of this dump (for `info` and the report). */
function decidingKeys(c: ClassSummary, vi: Vmcoreinfo, compound: CompoundDecoder): Partial<Record<PageClassName, string[]>> {
  const has = (...ks: string[]) => ks.filter((k) => vi.has(k));
  const keys: Partial<Record<PageClassName, string[]>> = {
    free:
      c.freePagesBy === 'page_type'
        ? has('NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)', 'OFFSET(page._mapcount)', 'OFFSET(page.private)', 'NUMBER(PAGE_UNACCEPTED_MAPCOUNT_VALUE)', 'LENGTH(zone.free_area)')
        : c.freePagesBy === 'free_lists'
          ? has('SYMBOL(node_data)', 'SYMBOL(contig_page_data)', 'OFFSET(zone.free_area)', 'OFFSET(free_area.free_list)', 'OFFSET(list_head.next)', 'OFFSET(page.lru)', 'LENGTH(zone.free_area)')
          : [],
    hinted: [
      ...(c.pageTypes?.canEncodeHinted ? has('NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)', 'NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)') : []),
      ...reportedKeys(c.reported),
    ],
    offline: has('NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)'),
    hwpoison: has('NUMBER(PG_hwpoison)'),
    cache: has('NUMBER(PG_lru)', 'NUMBER(PG_swapcache)', 'NUMBER(PG_swapbacked)'),
    cache_private: has('NUMBER(PG_lru)', 'NUMBER(PG_private)'),
    user: has('OFFSET(page.mapping)', 'NUMBER(PG_lru)'),
    hugetlb: [...(compound.hugetlbBy ? [compound.hugetlbBy] : []), ...has('NUMBER(PG_head_mask)'), ...(compound.orderBy ? [compound.orderBy] : [])],
    slab: has('NUMBER(PG_slab)', 'NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)'),
    kernel: [...has('SIZE(page)', 'OFFSET(page.flags)'), ...(c.memMap?.decidedBy ?? [])],
    no_struct_page: [...(c.memMap?.decidedBy ?? [])],
  };
  const out: Partial<Record<PageClassName, string[]>> = {};
  for (const [k, v] of Object.entries(keys) as [PageClassName, string[]][]) if (c.decidable[k]) out[k] = v;
  return out;
}

/**
 * The inputs that decide PG_reported, as `decidedBy.hinted` names them: the exported numbers
 * of the layout, or the option.
 */
export function reportedKeys(r: ReportedBitDecision | null): string[] {
  if (r === null || r.bit === null) return [];
  return r.by === 'option' ? [`--reported-bit ${r.bit}`] : r.keys.map((k) => k.replace(/=.*/, ''));
}

/** Flag bits when pageFlagBitsFromVmcoreinfo refuses: missing bits are -1 (never match). */
function lenientFlagBits(vi: Vmcoreinfo): PageFlagBits {
  const bit = (n: string) => {
    const v = vi.numberAsInt(n);
    return v !== undefined && v >= 0 && v < 64 ? v : undefined;
  };
  const lru = bit('PG_lru');
  const priv = bit('PG_private');
  const swapcache = bit('PG_swapcache');
  const all = lru !== undefined && priv !== undefined && swapcache !== undefined;
  return {
    lru: all ? lru : -1,
    private: all ? priv : -1,
    swapcache: all ? swapcache : -1,
    swapbacked: bit('PG_swapbacked'),
    slab: bit('PG_slab'),
    hwpoison: bit('PG_hwpoison'),
    headMask: vi.number('PG_head_mask') ?? 0n,
  };
}

/**
 * A 64-bit flag test on the two int32 halves of page->flags: `(half ? f1 : f0) & mask`. An
 * unknown bit has mask 0 and never matches.
 */
interface BitTest {
  half: number;
  mask: number;
}
function bitTest(bit: number | undefined): BitTest {
  if (bit === undefined || bit < 0 || bit > 63) return { half: 0, mask: 0 };
  return { half: bit >= 32 ? 1 : 0, mask: 1 << (bit & 31) };
}
/**
 * 2^order, as a small integer when it is one: `2 ** n` is a double, and a pfn computed from it
 * is boxed (allocated) at every step of the loop until TurboFan compiles it.
 */
function pow2(order: number): number {
  return order < 30 ? 1 << order : 2 ** order;
}

/** Whether page->flags (as halves f0, f1) has the bit of `t`. */
function has(t: BitTest, f0: number, f1: number): boolean {
  return ((t.half ? f1 : f0) & t.mask) !== 0;
}
/** Whether the int32 page-type word carries the type of `t`. */
function is(t: PageTypeTest, word: number): boolean {
  return (word & t.mask) === t.value;
}

/**
 * The class of a page that is untyped, neither compound head nor tail, and not a free-list
 * head, by its flag bits (the rules of the file's header reduced to that case).
 */
const S_HWPOISON = 1;
const S_SLAB = 2;
const S_ANON = 4;
const S_CACHE = 8;
const S_PRIVATE = 16;
const SIMPLE_CLASS = (() => {
  const t = new Uint8Array(32);
  for (let k = 0; k < 32; k++) {
    const slab = (k & S_SLAB) !== 0;
    const anon = !slab && (k & S_ANON) !== 0;
    const cache = (k & S_CACHE) !== 0;
    if (k & S_HWPOISON) t[k] = PageClass.hwpoison;
    else if (cache && !anon) t[k] = k & S_PRIVATE ? PageClass.cache_private : PageClass.cache;
    else if (anon) t[k] = PageClass.user;
    else if (slab) t[k] = PageClass.slab;
    else t[k] = PageClass.kernel;
  }
  return t;
})();

/** A page-type test that never matches (`(w & 0) === 1` is false). */
const NEVER: PageTypeTest = { mask: 0, value: 1 };

/**
 * Struct pages are read in batches of at most this many bytes: fs.readSync into a buffer that
 * fits in L2 is several times faster than into a section-sized (2 MiB) one.
 */
const BATCH_BYTES = 128 * 1024;
/** Int32 words per struct page in the packed copy of an unaligned layout (see Scanner.pack). */
const PACKED_STRIDE = 8;
const P_FLAGS = 0;
const P_COMPOUND_HEAD = 2;
const P_MAPPING = 3;
const P_PRIVATE = 4;
const P_MAPCOUNT = 6;

/**
 * The hot loop, with every per-kernel decision compiled into fields. A dump is classified in
 * one cold call, so the loop that decides untyped pages is kept small (TurboFan compiles it
 * early) and every other page (typed, compound, unreadable, free-list mode) goes through
 * {@link Scanner.slow}, which applies all the rules.
 */
class Scanner {
  pendingEnd = 0;
  pendingClass: number = PageClass.kernel;
  readonly anomalies: Record<string, number> = {};
  /** Present pages of hinted blocks, by rule (see Classification.hintedBy). */
  readonly hintedBy = { combined: 0, reported: 0 };
  /** Unknown pages by reason, indexed like {@link SCAN_REASONS}. */
  readonly reasonCounts = new Float64Array(SCAN_REASONS.length);
  /** The window: its first pfn, its classes (indexed from it) and its readable pfns. */
  private base = 0;
  private out: Uint8Array = new Uint8Array(0);
  private wp: Bitmap = new Bitmap(0);
  private readonly size: number;
  private readonly fo: number;
  private readonly cho: number;
  private readonly mapo: number;
  private readonly privo: number;
  private readonly mco: number;
  /**
   * Whether the fields the loop reads are 4-byte aligned and inside SIZE(page): a batch is
   * then read as int32 words in place, else through a packed copy of those fields.
   */
  private readonly aligned: boolean;
  private readonly batchPfns: number;
  private packed: Int32Array = new Int32Array(0);
  private readonly lru: BitTest;
  private readonly priv: BitTest;
  private readonly swapcache: BitTest;
  private readonly swapbacked: BitTest;
  private readonly noSwapbacked: boolean;
  private readonly slabBit: BitTest;
  private readonly hwpoison: BitTest;
  private readonly reported: BitTest;
  private readonly head: BitTest;
  private readonly buddyT: PageTypeTest;
  private readonly offlineT: PageTypeTest;
  private readonly slabT: PageTypeTest;
  private readonly hugetlbT: PageTypeTest;
  private readonly unacceptedT: PageTypeTest;
  /** The offline test when a buddy head can also be offline (hinted), else never. */
  private readonly hintedT: PageTypeTest;
  private readonly ridInvalidOrder: number;
  private readonly ridOrphan: number;
  private readonly ridUnmapped: number;
  private readonly ridNotInDump: number;
  private readonly extra = new Uint8Array(256);
  /** The current batch: int32 words, word indices of the fields and of a struct page. */
  private words: Int32Array = new Int32Array(0);
  private view: DataView | null = null;
  private bad: UnreadableRange[] = [];
  private bi = 0;
  private stride = 0;
  private wf = 0;
  private wch = 0;
  private wmap = 0;
  private wpriv = 0;
  private wmc = 0;
  /** page[1] of the last compound head seen by {@link compoundOrder}: its view and offset (-1: none). */
  private tailView: DataView | null = null;
  private tailOff = -1;

  constructor(
    layout: StructPageLayout,
    flags: PageFlagBits,
    pt: PageTypeDecoder,
    private readonly compound: CompoundDecoder,
    private readonly memmap: MemMap,
    private readonly readable: PfnSet,
    private readonly maxMapnr: number,
    reportedBit: number | undefined,
    private readonly nrOrders: number,
    private readonly freeLists: FreeListResult | null,
  ) {
    this.size = layout.size;
    this.fo = layout.flags;
    this.cho = layout.compoundHead;
    this.mapo = layout.mapping;
    this.privo = layout.private;
    this.mco = layout.mapcount;
    const inside = (o: number, n: number) => o % 4 === 0 && o + n <= this.size;
    this.aligned =
      this.size % 4 === 0 && inside(this.fo, 8) && inside(this.cho, 4) && inside(this.mapo, 4) && inside(this.privo, 8) && inside(this.mco, 4);
    this.batchPfns = Math.max(1, Math.floor(BATCH_BYTES / this.size));
    this.lru = bitTest(flags.lru);
    this.priv = bitTest(flags.private);
    this.swapcache = bitTest(flags.swapcache);
    this.swapbacked = bitTest(flags.swapbacked);
    this.noSwapbacked = flags.swapbacked === undefined || flags.swapbacked < 0 || flags.swapbacked > 63;
    this.slabBit = bitTest(flags.slab);
    this.hwpoison = bitTest(flags.hwpoison);
    this.reported = bitTest(reportedBit);
    let headBit = -1;
    if (flags.headMask > 0n && (flags.headMask & (flags.headMask - 1n)) === 0n) headBit = flags.headMask.toString(2).length - 1;
    this.head = bitTest(headBit);
    const t = (n: PageTypeName) => pt.test(n) ?? NEVER;
    this.buddyT = t('buddy');
    this.offlineT = t('offline');
    this.slabT = t('slab');
    this.unacceptedT = t('unaccepted');
    this.hintedT = pt.canEncodeHinted ? t('offline') : NEVER;
    this.hugetlbT = compound.hugetlbBy === 'NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)' ? t('hugetlb') : NEVER;
    this.ridInvalidOrder = SCAN_REASONS.indexOf('invalid_order');
    this.ridOrphan = SCAN_REASONS.indexOf('orphan_tail');
    this.ridUnmapped = SCAN_REASONS.indexOf('struct_page_unmapped');
    this.ridNotInDump = SCAN_REASONS.indexOf('struct_page_not_in_dump');
  }

  /** The window the next {@link section} calls classify into (see ClassWalk.window). */
  setWindow(base: number, out: Uint8Array, readable: Bitmap): void {
    this.base = base;
    this.out = out;
    this.wp = readable;
  }

  private anomaly(k: string): void {
    this.anomalies[k] = (this.anomalies[k] ?? 0) + 1;
  }

  /** Class `cls` for the present pfns of [s, e) (inside the window). */
  private fill(s: number, e: number, cls: number): void {
    const out = this.out;
    const wp = this.wp;
    const pb = wp.bytes;
    const ls = s - this.base;
    const le = e - this.base;
    if (le - ls < 64) {
      for (let p = ls; p < le; p++) if ((pb[p >>> 3]! & (1 << (p & 7))) !== 0) out[p] = cls;
      return;
    }
    for (let p = wp.nextSet(ls, le); p >= 0; ) {
      const q = wp.nextClear(p, le);
      out.fill(cls, p, q);
      if (q >= le) break;
      p = wp.nextSet(q, le);
    }
  }

  /** Count pfn `pfn` unknown for `rid` if present. */
  private unknown(pfn: number, rid: number): void {
    const i = pfn - this.base;
    if ((this.wp.bytes[i >>> 3]! & (1 << (i & 7))) !== 0) {
      this.out[i] = PageClass.unknown;
      this.reasonCounts[rid]!++;
    }
  }

  /** Classify the pfns of one usable section, [s, e). */
  section(s: number, e: number): void {
    // Pfns below 2^31 as small integers: a boxed pfn is reallocated at every step of the loop
    // until TurboFan compiles it.
    if (e < 2 ** 31) {
      s |= 0;
      e |= 0;
    }
    let pfn = s;
    while (pfn < e) {
      if (pfn < this.pendingEnd) {
        // A range an earlier head decided: its struct pages are not needed, so not read.
        const pe = Math.min(this.pendingEnd, e);
        this.fill(pfn, pe, this.pendingClass);
        pfn = pe;
        continue;
      }
      // An unaligned layout may read a field across the next struct page, as the section-wide
      // read always did: it is read to the section's end in one batch.
      pfn = this.batch(pfn, this.aligned ? Math.min(e, pfn + this.batchPfns) : e);
    }
  }

  /**
   * The fields the loop reads, copied to PACKED_STRIDE int32 words per struct page. A field
   * running past the end of the batch (an odd layout's last struct page) reads as zero.
   */
  private pack(v: DataView, count: number): Int32Array {
    if (this.packed.length < count * PACKED_STRIDE) this.packed = new Int32Array(count * PACKED_STRIDE);
    const w = this.packed;
    const len = v.byteLength;
    const at = (o: number) => (o + 4 <= len ? v.getInt32(o, true) : 0);
    for (let i = 0; i < count; i++) {
      const off = i * this.size;
      const b = i * PACKED_STRIDE;
      w[b + P_FLAGS] = at(off + this.fo);
      w[b + P_FLAGS + 1] = at(off + this.fo + 4);
      w[b + P_COMPOUND_HEAD] = at(off + this.cho);
      w[b + P_MAPPING] = at(off + this.mapo);
      w[b + P_PRIVATE] = at(off + this.privo);
      w[b + P_PRIVATE + 1] = at(off + this.privo + 4);
      w[b + P_MAPCOUNT] = at(off + this.mco);
    }
    return w;
  }

  /**
   * Order of the compound head `pfn` (struct page at byte `off` of `v`, a batch ending before
   * pfn `ce`), from page[1]; sets tailView/tailOff to page[1] when it is a tail page.
   */
  private compoundOrder(pfn: number, v: DataView, off: number, ce: number, here: boolean): number {
    let v1 = v;
    let off1 = -1;
    if (pfn + 1 < ce) off1 = off + this.size;
    else if (this.memmap.sectionOf(pfn + 1)) {
      // page[1] lies in the next batch or section: read it alone.
      const b1 = this.memmap.readStructPages(pfn + 1, 1, this.extra);
      if (b1.unreadable.length === 0) {
        v1 = new DataView(this.extra.buffer, 0, this.size);
        off1 = 0;
      }
    }
    let order = 0;
    if (off1 >= 0 && (v1.getUint32(off1 + this.cho, true) & 1) !== 0) {
      order = this.compound.order(v1, off1);
      if (order >= 64 || pfn % pow2(order) !== 0) {
        if (here) this.anomaly('invalid_compound_order');
        order = 0;
      }
    } else {
      if (here) this.anomaly('compound_head_without_tail');
      off1 = -1;
    }
    this.tailView = v1;
    this.tailOff = off1;
    return order;
  }

  /**
   * Classify [cs, ce) of one section from one batch of struct pages. Returns the first pfn not
   * handled: `ce`, or the pfn where a range decided by an earlier head runs past `ce`.
   *
   * Most struct pages are untyped, neither head nor tail: the loop decides those inline and
   * hands every other one to {@link slow}. A small loop is compiled by TurboFan early in the
   * first batch, and the rare paths (with their own type feedback) cannot deoptimise it.
   */
  private batch(cs: number, ce: number): number {
    const batch = this.memmap.readStructPages(cs, ce - cs);
    const v = batch.view;
    let w: Int32Array;
    if (this.aligned && v.byteOffset % 4 === 0) {
      w = new Int32Array(v.buffer, v.byteOffset, v.byteLength >>> 2);
      this.stride = this.size >>> 2;
      this.wf = this.fo >>> 2;
      this.wch = this.cho >>> 2;
      this.wmap = this.mapo >>> 2;
      this.wpriv = this.privo >>> 2;
      this.wmc = this.mco >>> 2;
    } else {
      w = this.pack(v, ce - cs);
      this.stride = PACKED_STRIDE;
      this.wf = P_FLAGS;
      this.wch = P_COMPOUND_HEAD;
      this.wmap = P_MAPPING;
      this.wpriv = P_PRIVATE;
      this.wmc = P_MAPCOUNT;
    }
    this.words = w;
    this.view = v;
    this.bad = batch.unreadable;
    this.bi = 0;
    const { stride, wf, wch, wmap, wmc } = this;
    const classOf = this.out;
    const pb = this.wp.bytes;
    const base = this.base;
    // Everything goes the slow way when the batch has unreadable struct pages or free blocks
    // come from the free lists (a head is any pfn then).
    const allSlow = batch.unreadable.length !== 0 || this.freeLists !== null;
    const headH = this.head.half;
    const headM = this.head.mask;
    const slabH = this.slabBit.half;
    const slabM = this.slabBit.mask;
    const hwH = this.hwpoison.half;
    const hwM = this.hwpoison.mask;
    const lruH = this.lru.half;
    const lruM = this.lru.mask;
    const scH = this.swapcache.half;
    const scM = this.swapcache.mask;
    const sbH = this.swapbacked.half;
    const sbM = this.swapbacked.mask;
    const noSb = this.noSwapbacked ? 1 : 0;
    const privH = this.priv.half;
    const privM = this.priv.mask;
    const simple = SIMPLE_CLASS;
    let pendingEnd = this.pendingEnd;
    let pfn = cs;
    for (; pfn < ce; pfn++) {
      if (pfn < pendingEnd) {
        if (pendingEnd >= ce) break;
        this.fill(pfn, pendingEnd, this.pendingClass);
        pfn = pendingEnd - 1;
        continue;
      }
      const b = (pfn - cs) * stride;
      const f0 = w[b + wf]!;
      const f1 = w[b + wf + 1]!;
      const word = w[b + wmc]!;
      // Typed (_mapcount negative but not -1), a tail, or a compound head: the slow way.
      const odd = (word < -1 ? 1 : 0) | (w[b + wch]! & 1) | ((headH ? f1 : f0) & headM);
      if (allSlow || odd !== 0) {
        this.slow(pfn, cs, ce);
        pendingEnd = this.pendingEnd;
        continue;
      }
      // Every test is computed every time (no branch without type feedback when TurboFan
      // compiles the loop); a hole stores 0, its class `hole`, as it already holds.
      // Cache: PG_lru, or PG_swapcache with PG_swapbacked (when the kernel has it).
      const swapCache = (((scH ? f1 : f0) & scM) !== 0 ? 1 : 0) & ((((sbH ? f1 : f0) & sbM) !== 0 ? 1 : 0) | noSb);
      const key =
        (((hwH ? f1 : f0) & hwM) !== 0 ? S_HWPOISON : 0) |
        (((slabH ? f1 : f0) & slabM) !== 0 ? S_SLAB : 0) |
        ((w[b + wmap]! & 1) !== 0 ? S_ANON : 0) |
        ((((lruH ? f1 : f0) & lruM) | swapCache) !== 0 ? S_CACHE : 0) |
        (((privH ? f1 : f0) & privM) !== 0 ? S_PRIVATE : 0);
      const li = pfn - base;
      classOf[li] = simple[key]! & -((pb[li >>> 3]! >>> (li & 7)) & 1);
    }
    return pfn;
  }

  /** Classify pfn `pfn` of the current batch [cs, ce) by every rule (see the file's header). */
  private slow(pfn: number, cs: number, ce: number): void {
    const w = this.words;
    const classOf = this.out;
    const li = pfn - this.base;
    const here = (this.wp.bytes[li >>> 3]! & (1 << (li & 7))) !== 0;
    const bad = this.bad;
    if (this.bi < bad.length) {
      while (this.bi < bad.length && bad[this.bi]!.end <= pfn) this.bi++;
      if (this.bi < bad.length && bad[this.bi]!.start <= pfn) {
        this.unknown(pfn, bad[this.bi]!.reason === 'struct_page_unmapped' ? this.ridUnmapped : this.ridNotInDump);
        return;
      }
    }
    const i = pfn - cs;
    const b = i * this.stride;
    if ((w[b + this.wch]! & 1) !== 0) {
      // A tail page outside its head's range (the head was kept page-by-page or unreadable).
      this.unknown(pfn, this.ridOrphan);
      return;
    }
    const f0 = w[b + this.wf]!;
    const f1 = w[b + this.wf + 1]!;
    // The _mapcount / page_type word as an int32: untyped pages hold -1 or a mapcount ≥ 0;
    // every scheme's typed values are other negatives.
    const word = w[b + this.wmc]!;
    const typed = word < -1;
    const slab = has(this.slabBit, f0, f1) || (typed && is(this.slabT, word));

    // Free blocks: buddy heads (page type) or free-list heads.
    if (!slab) {
      let blockOrder = -1;
      let cls: number = PageClass.free;
      let combined = false;
      let reported = false;
      if (typed && is(this.buddyT, word)) {
        const lo = w[b + this.wpriv]! >>> 0;
        const hi = w[b + this.wpriv + 1]!;
        blockOrder = hi !== 0 || lo >= this.nrOrders ? 64 : lo;
        combined = is(this.hintedT, word);
        reported = has(this.reported, f0, f1);
      } else if (this.freeLists !== null) {
        const o = this.freeLists.heads.get(pfn);
        if (o !== undefined) {
          blockOrder = o;
          reported = has(this.reported, f0, f1);
        }
      }
      if (combined || reported) cls = PageClass.hinted;
      if (blockOrder < 0 && typed && is(this.unacceptedT, word)) blockOrder = this.nrOrders - 1;
      if (blockOrder >= 0) {
        if (blockOrder >= 64 || pfn % pow2(blockOrder) !== 0) {
          this.unknown(pfn, this.ridInvalidOrder);
          return;
        }
        if (here) classOf[li] = cls;
        this.pendingEnd = pfn + pow2(blockOrder);
        this.pendingClass = cls;
        if (cls === PageClass.hinted) {
          // The block's present pages (the ones its class is counted for).
          const n = this.readable.count(pfn, Math.min(this.pendingEnd, this.maxMapnr));
          if (combined) this.hintedBy.combined += n;
          if (reported) this.hintedBy.reported += n;
        }
        return;
      }
    }

    // Compound head: its order, read from page[1].
    let order = 0;
    let off1 = -1;
    const off = i * this.size;
    if (has(this.head, f0, f1)) {
      order = this.compoundOrder(pfn, this.view!, off, ce, here);
      off1 = this.tailOff;
    }

    let cls: number;
    if (has(this.hwpoison, f0, f1)) cls = PageClass.hwpoison;
    else if (!slab && typed && is(this.offlineT, word)) cls = PageClass.offline;
    else {
      const anon = !slab && (w[b + this.wmap]! & 1) !== 0;
      const cache = has(this.lru, f0, f1) || (has(this.swapcache, f0, f1) && (this.noSwapbacked || has(this.swapbacked, f0, f1)));
      if (cache && !anon) cls = has(this.priv, f0, f1) ? PageClass.cache_private : PageClass.cache;
      else if (anon) cls = PageClass.user;
      else if (off1 >= 0 && this.compound.isHugetlb(this.tailView!, off, off1, word >>> 0)) cls = PageClass.hugetlb;
      else if (off1 < 0 && typed && is(this.hugetlbT, word)) cls = PageClass.hugetlb;
      else if (slab) cls = PageClass.slab;
      else cls = PageClass.kernel;
    }
    if (here) classOf[li] = cls;
    if (order > 0) {
      this.pendingEnd = pfn + pow2(order);
      this.pendingClass = cls;
    }
  }
}
