/**
 * Ground truth of a simulated image, computed from the machine's allocator state (never by
 * reading the image back): the class of every pfn below max_mapnr, the pages a filter must
 * exclude at each dump level, and the statistics real makedumpfile 1.7.2 prints.
 */
import { PAGEBLOCK_ORDER } from './buddy.js';
import { AUX, KIND, type Machine } from './machine.js';
import type { HintedStyle, SimOptions, Workload } from './options.js';
import { exportsOffline, hintingOf } from './generation.js';
import { pfnBytes, valueRuns, type SectionArray } from './pfnstore.js';

/** Page classes; every pfn below max_mapnr is in exactly one. */
export const CLASSES = ['hole', 'free', 'hinted', 'offline', 'hwpoison', 'zero', 'cache', 'cache_private', 'user', 'hugetlb', 'slab', 'kernel', 'unaccepted'] as const;
export type PageClass = (typeof CLASSES)[number];
export const CLASS_CODE: Record<PageClass, number> = Object.fromEntries(CLASSES.map((c, i) => [c, i])) as Record<PageClass, number>;

/** makedumpfile's report counters (FORMATS.md §7.3), in pages. */
export interface MakedumpfileStats {
  zero: number;
  cache: number;
  cachePrivate: number;
  user: number;
  free: number;
  hwpoison: number;
  offline: number;
  excluded: number;
  /** "Original pages": max_mapnr − memory holes, the kernel-text PT_LOAD counted twice (its quirk). */
  /* memoryHole may be negative: makedumpfile prints it as a wrapped u64 then. */
  original: number;
  remaining: number;
  memoryHole: number;
  total: number;
}

/** A run of pfns [start, start + count). */
export type Run = [start: number, count: number];

export interface GroundTruth {
  version: 1;
  options: SimOptions & { scenario: Workload };
  /** How this generation marked reported free blocks ('none': it cannot; they are free). */
  hintedStyle: HintedStyle | 'none';
  /** The kernel profile simulated. */
  kernel: string;
  layout: {
    physBase: string;
    pageOffset: string;
    vmemmap: string;
    text: string;
    kernelOffset: string;
    kernelPhys: number;
    kernelBytes: number;
    ptLevels: number;
    /** arm64 images only (absent on x86_64, whose truths predate them). */
    arch?: 'arm64';
    pageSize?: number;
    physOffset?: string;
    kimageVoffset?: string;
    vmemmapStart?: string;
    maxMapnr: number;
    ram: { start: number; end: number }[];
    /** RAM PT_LOADs (physical byte ranges), plus the kernel-text PT_LOAD listed separately. */
    loads: { start: number; end: number }[];
    textLoad: { paddr: number; vaddr: string; size: number };
    gap: { start: number; end: number } | null;
    crashkernel: { start: number; end: number };
    symbols: Record<string, string>;
  };
  /** Pages per class (below max_mapnr). */
  counts: Record<PageClass, number>;
  /** Run-length lists of pfns per class (empty when simulate() was asked to skip them). */
  runs: Record<PageClass, Run[]>;
  /** Whether a class's pages are all zero-filled in the image. */
  zeroContent: Record<PageClass, boolean>;
  /** Pages vmcore-filter must exclude at each dump level 0..31 (holes not counted). */
  excludeByLevel: number[];
  /** What makedumpfile 1.7.2 reports at each dump level 0..31. */
  makedumpfile: MakedumpfileStats[];
}

/**
 * The class of every pfn in [0, max_mapnr) as CLASS_CODE values, stored per present section
 * (pfns of absent sections are holes).
 */
export function classifyPfns(m: Machine): SectionArray {
  const n = m.layout.maxMapnr;
  const cls = pfnBytes(m.layout.presentSections, m.layout.pagesPerSection, CLASS_CODE.hole);
  const K: number[] = [];
  K[KIND.KERNEL] = CLASS_CODE.kernel;
  K[KIND.RESERVED] = CLASS_CODE.kernel;
  K[KIND.NOMEM] = CLASS_CODE.hole;
  K[KIND.KERNEL_ZERO] = CLASS_CODE.zero;
  K[KIND.SLAB] = CLASS_CODE.slab;
  K[KIND.CACHE] = CLASS_CODE.cache;
  K[KIND.CACHE_PRIVATE] = CLASS_CODE.cache_private;
  K[KIND.ANON] = CLASS_CODE.user;
  K[KIND.SWAPCACHE] = CLASS_CODE.user;
  K[KIND.THP] = CLASS_CODE.user;
  K[KIND.HUGETLB] = CLASS_CODE.hugetlb;
  K[KIND.HUGETLB_FREE] = CLASS_CODE.hugetlb;
  // Without NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE) (before 5.1) nothing tells a dump tool that a
  // balloon page is offline: it is kernel memory that happens to be zero.
  K[KIND.BALLOON] = exportsOffline(m.profile) ? CLASS_CODE.offline : CLASS_CODE.zero;
  K[KIND.VIRTIO_MEM] = K[KIND.BALLOON]!;
  K[KIND.UNACCEPTED] = CLASS_CODE.unaccepted;
  K[KIND.HWPOISON] = CLASS_CODE.hwpoison;
  K[KIND.FREE] = CLASS_CODE.free;
  const PAGE_SIZE = m.layout.pageSize;
  for (const r of m.layout.loads) {
    for (let p = r.start / PAGE_SIZE; p < r.end / PAGE_SIZE; p++) cls.set(p, K[m.kind.get(p)]!);
  }
  // hinted blocks: the whole block of a hinted free head
  for (const [pfn, o] of m.buddy.freeBlocks(PAGEBLOCK_ORDER)) if (m.aux.get(pfn) & AUX.HINTED) cls.fill(CLASS_CODE.hinted, pfn, pfn + (1 << o));
  // reserved pages whose explicit content is all zero (empty mem_section roots, pglist_data padding…)
  for (const [pfn, page] of m.structural) {
    if (pfn < n && cls.get(pfn) === CLASS_CODE.kernel && isZero(page)) cls.set(pfn, CLASS_CODE.zero);
  }
  return cls;
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** The class of one pfn from a truth's run lists (binary search). */
export function truthPfnClass(truth: GroundTruth, pfn: number): PageClass {
  for (const c of CLASSES) {
    const runs = truth.runs[c];
    let lo = 0;
    let hi = runs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [s, n] = runs[mid]!;
      if (pfn < s) hi = mid - 1;
      else if (pfn >= s + n) lo = mid + 1;
      else return c;
    }
  }
  return 'hole';
}

/** Expand a truth's run lists into a per-pfn class array (CLASS_CODE values). */
export function truthClassArray(truth: GroundTruth): Uint8Array {
  const a = new Uint8Array(truth.layout.maxMapnr);
  for (const c of CLASSES) for (const [s, n] of truth.runs[c]) a.fill(CLASS_CODE[c], s, s + n);
  return a;
}

/** Compute the ground truth. */
export function computeTruth(m: Machine, cls: SectionArray = classifyPfns(m), opts: { runs?: boolean } = {}): GroundTruth {
  const { counts, runs } = countClasses(cls, m.layout.maxMapnr, opts.runs !== false);
  const freeZero = m.opts.freeContent === 'zero';
  const style = hintingOf(m.profile, m.opts);
  const mdfMachine = makedumpfileView(m, style);
  const excludeByLevel: number[] = [];
  const mdf: MakedumpfileStats[] = [];
  for (let d = 0; d < 32; d++) {
    excludeByLevel.push(excludedAtLevel(counts, d, freeZero));
    mdf.push(makedumpfileStatsAt(counts, d, freeZero, mdfMachine));
  }
  return {
    version: 1,
    options: m.opts as SimOptions & { scenario: Workload },
    hintedStyle: style,
    kernel: m.profile.name,
    layout: truthLayout(m),
    counts,
    runs,
    zeroContent: zeroContentOf(freeZero),
    excludeByLevel,
    makedumpfile: mdf,
  };
}

/** Pages per class below max_mapnr and, with `withRuns`, their run lists. */
function countClasses(cls: SectionArray, maxMapnr: number, withRuns: boolean): { counts: Record<PageClass, number>; runs: Record<PageClass, Run[]> } {
  const counts = Object.fromEntries(CLASSES.map((c) => [c, 0])) as Record<PageClass, number>;
  const runs = Object.fromEntries(CLASSES.map((c) => [c, [] as Run[]])) as Record<PageClass, Run[]>;
  for (const [i, count, c] of valueRuns(cls, maxMapnr)) {
    const name = CLASSES[c]!;
    counts[name] += count;
    // Run lists are most of the truth's memory on a big machine (~700 MiB at 64 GiB).
    if (withRuns) runs[name].push([i, count]);
  }
  return { counts, runs };
}

/** Which classes the image holds as zero-filled pages (free ones only with --free-content zero). */
function zeroContentOf(freeZero: boolean): Record<PageClass, boolean> {
  return {
    hole: false,
    free: freeZero,
    hinted: true,
    offline: true,
    hwpoison: false,
    zero: true,
    cache: false,
    cache_private: false,
    user: false,
    hugetlb: false,
    slab: false,
    kernel: false,
    unaccepted: true,
  };
}

/** The bits of dump level `d`, by what each excludes. */
function levelBits(d: number): { zero: boolean; cache: boolean; cachePrivate: boolean; user: boolean; free: boolean } {
  return { zero: (d & 1) !== 0, cache: (d & 2) !== 0, cachePrivate: (d & 4) !== 0, user: (d & 8) !== 0, free: (d & 16) !== 0 };
}

/** Pages vmcore-filter excludes at dump level `d`: hinted, offline, hwpoison always; the rest by level; zero-content pages left over with bit 1. */
function excludedAtLevel(counts: Record<PageClass, number>, d: number, freeZero: boolean): number {
  const bit = levelBits(d);
  let ex = counts.hinted + counts.offline + counts.hwpoison;
  if (bit.free) ex += counts.free;
  else if (bit.zero && freeZero) ex += counts.free;
  // unaccepted memory: excluded with free pages; its content is zero (never written)
  if (bit.free || bit.zero) ex += counts.unaccepted;
  if (bit.zero) ex += counts.zero;
  if (bit.cachePrivate) ex += counts.cache + counts.cache_private;
  else if (bit.cache) ex += counts.cache;
  if (bit.user) ex += counts.user + counts.hugetlb;
  return ex;
}

/** What of the machine makedumpfile 1.7.2's counters depend on, beyond the class counts. */
interface MakedumpfileView {
  /** Hinted blocks look free to it (pg-reported); combined ones (-385) match neither -129 nor -257. */
  hintedAsFree: boolean;
  /** It reads compound orders (page.compound_order exported) rather than taking every head for order 0. */
  seesCompound: boolean;
  thpTails: number;
  loadPages: number;
  textPages: number;
  maxMapnr: number;
}

/**
 * makedumpfile 1.7.2 reads a compound page's order and hugetlb dtor only through
 * OFFSET(page.compound_order/compound_dtor) (FORMATS.md §4.4 rows up to 6.2; folio offsets
 * came in 1.7.3, the page[1].flags order and PG_hugetlb in 1.7.4, the hugetlb page type in
 * 1.7.6). Elsewhere it takes every head for order 0: an anonymous THP counts as its head page
 * only (tails are skipped) and hugetlb pages are not user data at all (observed in
 * test/interop/generations-makedumpfile.test.ts).
 */
function makedumpfileView(m: Machine, style: HintedStyle | 'none'): MakedumpfileView {
  const PAGE_SIZE = m.layout.pageSize;
  let thpTails = 0;
  for (const [a, b] of m.kind.ranges()) {
    for (let p = a; p < b; p++) if (m.kind.get(p) === KIND.THP && p % (1 << (m.aux.get(p) & AUX.ORDER)) !== 0) thpTails++;
  }
  return {
    hintedAsFree: style === 'pg-reported',
    seesCompound: m.profile.compound.order === 'page',
    thpTails,
    loadPages: m.layout.loads.reduce((a, r) => a + (r.end - r.start) / PAGE_SIZE, 0),
    textPages: m.layout.kernelBytes / PAGE_SIZE,
    maxMapnr: m.layout.maxMapnr,
  };
}

/** What makedumpfile 1.7.2 reports at dump level `d`. */
function makedumpfileStatsAt(counts: Record<PageClass, number>, d: number, freeZero: boolean, v: MakedumpfileView): MakedumpfileStats {
  const bit = levelBits(d);
  const s: MakedumpfileStats = {
    zero: 0,
    cache: bit.cache || bit.cachePrivate ? counts.cache : 0,
    cachePrivate: bit.cachePrivate ? counts.cache_private : 0,
    user: bit.user ? (v.seesCompound ? counts.user + counts.hugetlb : counts.user - v.thpTails) : 0,
    free: bit.free ? counts.free + (v.hintedAsFree ? counts.hinted : 0) : 0,
    hwpoison: counts.hwpoison,
    offline: counts.offline,
    excluded: 0,
    original: v.loadPages + v.textPages,
    remaining: 0,
    memoryHole: v.maxMapnr - v.loadPages - v.textPages,
    total: v.maxMapnr,
  };
  if (bit.zero) {
    s.zero = counts.zero + counts.unaccepted; // 1.7.2 does not know PAGE_UNACCEPTED: zero pages
    if (!bit.free && freeZero) s.zero += counts.free;
    if (!(bit.free && v.hintedAsFree)) s.zero += counts.hinted;
  }
  s.excluded = s.zero + s.cache + s.cachePrivate + s.user + s.free + s.hwpoison + s.offline;
  s.remaining = s.original - s.excluded;
  return s;
}

/** The truth's layout section: bases and symbols as hex strings, the physical ranges as numbers. */
function truthLayout(m: Machine): GroundTruth['layout'] {
  const L = m.layout;
  const h = (v: bigint) => '0x' + v.toString(16);
  return {
    physBase: h(L.physBase),
    pageOffset: h(L.pageOffset),
    vmemmap: h(L.vmemmap),
    text: h(L.text),
    kernelOffset: h(L.kernelOffset),
    kernelPhys: L.kernelPhys,
    kernelBytes: L.kernelBytes,
    ptLevels: L.arch === 'arm64' ? (m.pageTables as { levels: number }).levels : L.l5 ? 5 : 4,
    // arm64 only, so x86_64 truths stay byte-identical
    ...(L.arch === 'arm64' ? { arch: L.arch, pageSize: L.pageSize, physOffset: h(BigInt(L.physOffset)), kimageVoffset: h(L.kimageVoffset), vmemmapStart: h(L.vmemmapStart) } : {}),
    maxMapnr: L.maxMapnr,
    ram: L.ram,
    loads: L.loads,
    textLoad: { paddr: L.kernelPhys, vaddr: h(L.text), size: L.kernelBytes },
    gap: L.gap,
    crashkernel: L.crashkernel,
    symbols: Object.fromEntries(Object.entries(m.symbols).map(([k, v]) => [k, h(v)])),
  };
}
