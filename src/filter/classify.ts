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
import { parseVmcoreinfo, type Vmcoreinfo } from '../vmcoreinfo/parse.js';
import { KernelMemory } from '../memory/kernel.js';
import { locateMemMap, type MemMap, type MemoryModel } from '../mm/memmap.js';
import {
  pageFlagBitsFromVmcoreinfo,
  structPageLayoutFromVmcoreinfo,
  type PageFlagBits,
  type StructPageLayout,
} from '../mm/layout.js';
import { detectPageTypes, type PageTypeDecoder, type PageTypeScheme } from '../mm/pagetype.js';
import { compoundDecoderFromVmcoreinfo } from '../mm/compound.js';
import { decideReportedBit, type ReportedBitDecision } from '../mm/pageflags.js';
import { CLASS_NAMES, PageClass, emptyCounts, type PageClassName } from './classes.js';
import { missingFreeListKeys, walkFreeLists, type FreeListResult } from './freelist.js';
import { decideClasses, lenientFlagBits } from './decide.js';
import { Classifier, DEFAULT_CYCLIC_BUFFER_KIB, managedEndOf, segmentsOf, windowPfns, type ClassWalk, type ScanPlan } from './walk.js';

export { reportedKeys } from './decide.js';
export { Classifier, ClassWalk } from './walk.js';

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
 * Classify every pfn of `reader` into one whole-dump array (max_mapnr bytes: for callers that
 * need every class at once; the filter and the triage commands walk windows, see
 * {@link walkClassifier}). Never throws
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

/** One window of a walk: the class of pfn `base + i` is `classes[i]`, for pfns [base, end). */
export interface ClassWindow {
  base: number;
  end: number;
  /** Valid until the next window (one buffer is reused). */
  classes: Uint8Array;
  /** No readable pfn in the window: every class is `hole` (skip it without looking). */
  empty: boolean;
}

/**
 * Walk every pfn of `k` in windows of `cyclicBufferKiB` (makedumpfile's --cyclic-buffer,
 * default {@link DEFAULT_CYCLIC_BUFFER_KIB}) with one reused buffer, handing each window to
 * `onWindow` in pfn order: memory is the window, not max_mapnr. Returns the counts.
 */
export function walkClassifier(
  k: Classifier,
  onWindow?: (w: ClassWindow) => void,
  cyclicBufferKiB = DEFAULT_CYCLIC_BUFFER_KIB,
  /** The walk to drive (a caller that wants its `lastKept` afterwards passes its own). */
  w: ClassWalk = k.walk(),
): ClassSummary {
  const maxMapnr = k.summary.maxMapnr;
  const size = Math.min(maxMapnr, windowPfns(cyclicBufferKiB, k.pagesPerSection));
  let classes: Uint8Array;
  try {
    classes = new Uint8Array(size);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new VmcoreError('E_LIMIT', `classifying ${size} pfns needs ${size} bytes, more than this process can allocate (lower --cyclic-buffer)`);
  }
  for (let base = 0; base < maxMapnr; base += size) {
    const end = Math.min(maxMapnr, base + size);
    w.window(base, end, classes);
    onWindow?.({ base, end, classes, empty: k.readable.nextSet(base, end) < 0 });
  }
  return w.finish();
}

/** {@link prepareClassifier} and {@link walkClassifier}: the summary of a dump, window by window. */
export function summarizeDump(reader: DumpReader, opts: ClassifyOptions, onWindow?: (w: ClassWindow) => void): ClassSummary {
  return walkClassifier(prepareClassifier(reader, opts), onWindow);
}

/**
 * Everything decided before the first struct page is read (what the dump lets us decide, where
 * mem_map is, the free lists), and the walk over mem_map that classifies one pfn window at a
 * time: memory is the window, not max_mapnr. Never throws for dump content.
 */
export function prepareClassifier(reader: DumpReader, opts: ClassifyOptions): Classifier {
  checkReportedBit(opts);
  const maxMapnr = reader.maxMapnr;
  // Pages an earlier filter excluded (a kdump input's 1st-but-not-2nd bitmap) have no data:
  // like holes, they cannot be written, so they are classed `hole` too.
  const present = readablePfns(reader);
  const c = emptySummary(maxMapnr, opts);
  const giveUp = (g: GiveUp) => {
    c.warnings.push(g.why);
    for (const n of CLASS_NAMES) if (!c.decidable[n]) c.undecidable[n] = g.why;
    return new Classifier(c, null, present, [{ s: 0, e: maxMapnr, reason: g.reason }], 0);
  };
  const k = kernelFacts(reader, c, opts);
  if ('reason' in k) return giveUp(k);
  const m = findMemMap(reader, k.vi, c, maxMapnr);
  if ('reason' in m) return giveUp(m);
  const nrOrdersExported = k.vi.length('zone.free_area');
  const nrOrders = nrOrdersExported ?? 11;
  if (nrOrdersExported === undefined) c.warnings.push('VMCOREINFO lacks LENGTH(zone.free_area): assuming 11 buddy orders');
  const freeLists = freePagesBy(c, k, m, opts, maxMapnr);
  decideClasses(c, k.vi, k.flags, k.pt, k.compound, k.reportedBit);
  const plan: ScanPlan = { layout: k.layout, flags: k.flags, pt: k.pt, compound: k.compound, memmap: m.memmap, reportedBit: k.reportedBit, nrOrders, freeLists };
  const managedEnd = managedEndOf(m.memmap, present, maxMapnr);
  return new Classifier(c, plan, present, segmentsOf(m.memmap, present, maxMapnr, 2 ** (nrOrders - 1)), managedEnd);
}

/** Why nothing can be decided: every page is kept, `unknown` for `reason`. */
interface GiveUp {
  reason: UnknownReason;
  why: string;
}

/** What VMCOREINFO says about struct page and its flags, page types and compound pages. */
interface KernelFacts {
  vi: Vmcoreinfo;
  layout: StructPageLayout;
  flags: PageFlagBits;
  pt: PageTypeDecoder;
  compound: ReturnType<typeof compoundDecoderFromVmcoreinfo>;
  reportedBit: number | undefined;
}

function checkReportedBit(opts: ClassifyOptions): void {
  const b = opts.reportedBit;
  if (b !== undefined && b !== null && !(Number.isInteger(b) && b >= 0 && b < 64)) {
    throw new VmcoreError('E_USAGE', `reported bit ${b} is not a page->flags bit (0..63)`, { option: '--reported-bit' });
  }
}

/** A summary with nothing decided yet but holes and unknown pages. */
function emptySummary(maxMapnr: number, opts: ClassifyOptions): ClassSummary {
  const c: ClassSummary = {
    maxMapnr,
    counts: emptyCounts(),
    reasons: {},
    anomalies: {},
    pageTypes: null,
    freePagesBy: 'none',
    reported: opts.reportedBit === undefined ? null : ({ bit: opts.reportedBit, by: 'option' } as ReportedBitDecision),
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
  return c;
}

/** A VmcoreError of VMCOREINFO content as a reason to keep every page; anything else is rethrown. */
function keepAll(e: unknown, reason: UnknownReason, why: (m: string) => string): GiveUp {
  if (!(e instanceof VmcoreError)) throw e;
  return { reason, why: why(e.message) };
}

/** Pass 0: the struct page layout, flag bits, page-type scheme and compound decoder (recorded in `c`). */
function kernelFacts(reader: DumpReader, c: ClassSummary, opts: ClassifyOptions): KernelFacts | GiveUp {
  let vi: Vmcoreinfo;
  try {
    if (reader.vmcoreinfoText === null) return { reason: 'no_vmcoreinfo', why: 'the dump has no VMCOREINFO: every page is kept' };
    vi = parseVmcoreinfo(reader.vmcoreinfoText);
  } catch (e) {
    return keepAll(e, 'no_vmcoreinfo', (m) => `VMCOREINFO unusable (${m}): every page is kept`);
  }
  let layout: StructPageLayout;
  try {
    layout = structPageLayoutFromVmcoreinfo(vi);
  } catch (e) {
    return keepAll(e, 'missing_struct_page_keys', (m) => `${m}: every page is kept`);
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
  return { vi, layout, flags, pt, compound, reportedBit };
}

/** Kernel memory and mem_map's sections (recorded in `c`). */
function findMemMap(reader: DumpReader, vi: Vmcoreinfo, c: ClassSummary, maxMapnr: number): { mem: KernelMemory; memmap: MemMap } | GiveUp {
  let mem: KernelMemory;
  try {
    mem = new KernelMemory(reader, vi);
  } catch (e) {
    return keepAll(e, 'no_translation', (m) => `${m}: every page is kept`);
  }
  let memmap: MemMap;
  try {
    memmap = locateMemMap(mem, vi, maxMapnr);
  } catch (e) {
    return keepAll(e, 'no_mem_map', (m) => `${m}: every page is kept`);
  }
  c.memMap = { model: memmap.model, sections: memmap.sections.length, unusableSections: memmap.unusableSections, decidedBy: memmap.decidedBy };
  // Not one section's mem_map can be read: say why, once. A VMCOREINFO from another boot (KASLR
  // moves the kernel) or another kernel points mem_section at memory this dump does not hold.
  // (A truncated input says why in its own warning.)
  if (memmap.sections.length === 0 && memmap.unusable.length > 0 && !(reader.warnings ?? []).some((w) => w.code === 'truncated')) {
    const u = memmap.unusable.find((x) => x.reason !== 'section_not_present') ?? memmap.unusable[0]!;
    c.warnings.push(`no section's mem_map can be read (${u.reason}${u.detail ? `: ${u.detail}` : ''}): every page is kept; is the VMCOREINFO this boot's?`);
  }
  return { mem, memmap };
}

/**
 * How free pages are found: by the buddy page type, else by walking the zones' free lists
 * (only when the level excludes free pages), else not at all (recorded in `c`).
 */
function freePagesBy(c: ClassSummary, k: KernelFacts, m: { mem: KernelMemory; memmap: MemMap }, opts: ClassifyOptions, maxMapnr: number): FreeListResult | null {
  if (k.pt.values.buddy !== undefined) {
    c.freePagesBy = 'page_type';
    return null;
  }
  const missing = missingFreeListKeys(k.vi);
  if (missing.length) {
    c.undecidable.free = `no NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE), and a free-list walk needs ${missing.join(', ')}`;
    c.warnings.push(`free pages cannot be found: ${c.undecidable.free}`);
    return null;
  }
  if (opts.dumpLevel & 16 || opts.alwaysWalkFreeLists) {
    const freeLists = walkFreeLists(k.vi, m.mem, m.memmap, maxMapnr);
    c.freePagesBy = 'free_lists';
    c.warnings.push(...freeLists.warnings);
    return freeLists;
  }
  c.undecidable.free = 'no NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE); free lists are walked only when the dump level excludes free pages';
  return null;
}
