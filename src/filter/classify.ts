/**
 * Page classification: one class per pfn, from one pass over mem_map in section-sized
 * batches (FORMATS.md §4.3, with hinted pages added). Rules, in order:
 *  - pfns the input does not hold are `hole`;
 *  - a pfn inside a range decided by an earlier head (buddy block, compound page) takes
 *    the head's class; a tail page outside any such range is kept (`unknown`, 'orphan_tail');
 *  - slab (PG_slab or the slab page type) vetoes buddy, offline and anon, as makedumpfile;
 *  - buddy head: `hinted` if it is also offline (inverted page-type scheme) or carries
 *    `reportedBit`, else `free`, for the whole 2^private block (invalid order → kept);
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
import { readableBitmap, type DumpReader } from '../formats/dump.js';
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
import { compoundDecoderFromVmcoreinfo, type CompoundDecoder } from '../mm/compound.js';
import { CLASS_NAMES, NR_CLASSES, PageClass, emptyCounts, type PageClassName } from './classes.js';
import { missingFreeListKeys, walkFreeLists, type FreeListResult } from './freelist.js';

export interface ClassifyOptions {
  /** Dump level the caller will apply; recorded, and bit 16 decides whether free lists are walked. */
  dumpLevel: number;
  /** A page->flags bit marking a buddy head as reported to the hypervisor (PG_reported style): such blocks are `hinted`. */
  reportedBit?: number;
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

/** Classify every pfn of `reader`. Never throws for dump content: undecidable pages are `unknown`. */
export function classifyDump(reader: DumpReader, opts: ClassifyOptions): Classification {
  if (opts.reportedBit !== undefined && !(Number.isInteger(opts.reportedBit) && opts.reportedBit >= 0 && opts.reportedBit < 64)) {
    throw new VmcoreError('E_USAGE', `reported bit ${opts.reportedBit} is not a page->flags bit (0..63)`, { option: '--reported-bit' });
  }
  const maxMapnr = reader.maxMapnr;
  let classOf: Uint8Array;
  try {
    classOf = new Uint8Array(maxMapnr);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new VmcoreError('E_LIMIT', `classifying ${maxMapnr} pfns needs ${maxMapnr} bytes, more than this process can allocate`);
  }
  // Pages an earlier filter excluded (a kdump input's 1st-but-not-2nd bitmap) have no data:
  // like holes, they cannot be written, so they are classed `hole` too.
  const present = readableBitmap(reader);
  const c: Classification = {
    maxMapnr,
    classOf,
    counts: emptyCounts(),
    reasons: {},
    anomalies: {},
    pageTypes: null,
    freePagesBy: 'none',
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
  const reasonCounts = new Float64Array(32);
  const reasonIds = new Map<UnknownReason, number>();
  const reasonNames: UnknownReason[] = [];
  const rid = (r: UnknownReason) => {
    let id = reasonIds.get(r);
    if (id === undefined) {
      id = reasonNames.length;
      reasonIds.set(r, id);
      reasonNames.push(r);
    }
    return id;
  };

  /** Mark present pfns of [s, e) unknown with `reason`. */
  const markUnknown = (s: number, e: number, reason: UnknownReason) => {
    const id = rid(reason);
    for (let p = present.nextSet(s, e); p >= 0; p = present.nextSet(p + 1, e)) {
      classOf[p] = PageClass.unknown;
      reasonCounts[id]!++;
    }
  };
  const finish = () => {
    const counts = new Float64Array(NR_CLASSES);
    // Holes (class 0) fill most of a sparse or corrupt pfn space: skip zero words four pfns at a time.
    let i = 0;
    if (classOf.byteOffset % 4 === 0) {
      const w = new Uint32Array(classOf.buffer, classOf.byteOffset, maxMapnr >>> 2);
      let zeros = 0;
      for (let k = 0; k < w.length; k++) {
        if (w[k] === 0) zeros += 4;
        else for (let j = k * 4; j < k * 4 + 4; j++) counts[classOf[j]!]!++;
      }
      counts[PageClass.hole]! += zeros;
      i = w.length * 4;
    }
    for (; i < maxMapnr; i++) counts[classOf[i]!]!++;
    for (let i = 0; i < NR_CLASSES; i++) c.counts[CLASS_NAMES[i]!] = counts[i]!;
    reasonNames.forEach((r, i) => {
      if (reasonCounts[i]! > 0) c.reasons[r] = reasonCounts[i]!;
    });
    return c;
  };
  const giveUp = (reason: UnknownReason, why: string) => {
    c.warnings.push(why);
    for (const n of CLASS_NAMES) if (!c.decidable[n]) c.undecidable[n] = why;
    markUnknown(0, maxMapnr, reason);
    return finish();
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
  c.memMap = { model: memmap.model, sections: memmap.sections.length, unusableSections: memmap.unusable.length, decidedBy: memmap.decidedBy };

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
  d.cache = d.cache_private = d.user = flags.lru >= 0;
  if (!d.cache) c.undecidable.cache = c.undecidable.cache_private = c.undecidable.user = 'VMCOREINFO lacks page flag numbers';
  d.free = c.freePagesBy !== 'none';
  d.hinted = pt.canEncodeHinted || opts.reportedBit !== undefined;
  if (!d.hinted) {
    c.undecidable.hinted =
      pt.scheme === 'inverted'
        ? 'NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE) not exported and no reported bit given'
        : pt.scheme === 'top-byte'
          ? "page-type scheme 'top-byte' holds one type per page (no buddy+offline): reported free pages carry PG_reported, give its bit with --reported-bit"
          : `page-type scheme '${pt.scheme}' cannot encode buddy+offline and no reported bit given`;
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
  c.decidedBy = decidingKeys(c, vi, compound, opts.reportedBit);
  if (compound.orderBy === null && flags.headMask !== 0n) c.warnings.push('no compound order available: compound heads are treated as order 0');

  // --- The scan. ---
  const scan = new Scanner(c, layout, flags, pt, compound, memmap, present.bytes, opts.reportedBit, nrOrders, freeLists, rid, reasonCounts);
  let next = 0; // first pfn not yet handled
  const gap = (s: number, e: number, reason: UnknownReason) => {
    // Pfns of [s, e) without usable struct pages: a pending head range still decides them.
    if (s < scan.pendingEnd) {
      const pe = Math.min(e, scan.pendingEnd);
      for (let p = present.nextSet(s, pe); p >= 0; p = present.nextSet(p + 1, pe)) classOf[p] = scan.pendingClass;
      s = pe;
    }
    if (s < e) markUnknown(s, e, reason);
  };
  const unusable = memmap.unusable;
  const lookahead = 2 ** (nrOrders - 1);
  let ui = 0;
  for (const sec of memmap.sections) {
    while (ui < unusable.length && unusable[ui]!.startPfn < sec.startPfn) {
      const u = unusable[ui++]!;
      if (u.startPfn > next) gap(next, u.startPfn, 'no_mem_map');
      gap(Math.max(next, u.startPfn), u.endPfn, u.reason);
      next = Math.max(next, u.endPfn);
    }
    if (sec.startPfn > next) gap(next, sec.startPfn, 'no_mem_map');
    // A section without present pfns is still read when present pfns follow closely: a free
    // block headed in it may continue into them.
    const first = present.nextSet(sec.startPfn, sec.endPfn + lookahead);
    if (first >= 0) scan.section(sec.startPfn, sec.endPfn);
    next = Math.max(next, sec.endPfn);
  }
  while (ui < unusable.length) {
    const u = unusable[ui++]!;
    if (u.startPfn > next) gap(next, u.startPfn, 'no_mem_map');
    gap(Math.max(next, u.startPfn), u.endPfn, u.reason);
    next = Math.max(next, u.endPfn);
  }
  if (next < maxMapnr) gap(next, maxMapnr, 'no_mem_map');
  for (const [k, v] of Object.entries(scan.anomalies)) c.anomalies[k] = v;
  return finish();
}

/** The keys that decide each decidable class of this dump (for `info` and the report). */
function decidingKeys(c: Classification, vi: Vmcoreinfo, compound: CompoundDecoder, reportedBit: number | undefined): Partial<Record<PageClassName, string[]>> {
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
      ...(reportedBit !== undefined ? [`--reported-bit ${reportedBit}`] : []),
    ],
    offline: has('NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)'),
    hwpoison: has('NUMBER(PG_hwpoison)'),
    cache: has('NUMBER(PG_lru)', 'NUMBER(PG_swapcache)', 'NUMBER(PG_swapbacked)'),
    cache_private: has('NUMBER(PG_lru)', 'NUMBER(PG_private)'),
    user: has('OFFSET(page.mapping)', 'NUMBER(PG_lru)'),
    hugetlb: [...(compound.hugetlbBy ? [compound.hugetlbBy] : []), ...has('NUMBER(PG_head_mask)'), ...(compound.orderBy ? [compound.orderBy] : [])],
    slab: has('NUMBER(PG_slab)', 'NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)'),
    kernel: [...has('SIZE(page)', 'OFFSET(page.flags)'), ...(c.memMap?.decidedBy ?? [])],
  };
  const out: Partial<Record<PageClassName, string[]>> = {};
  for (const [k, v] of Object.entries(keys) as [PageClassName, string[]][]) if (c.decidable[k]) out[k] = v;
  return out;
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

/** A 64-bit flag test on two u32 halves: [1 if the high word, mask] or null if the bit is unknown. */
function bitTest(bit: number | undefined): [number, number] | null {
  if (bit === undefined || bit < 0 || bit > 63) return null;
  return [bit >= 32 ? 1 : 0, (1 << (bit & 31)) >>> 0];
}
const NO_BIT: [number, number] = [0, 0];

/** The hot loop, with every per-kernel decision compiled into fields. */
class Scanner {
  pendingEnd = 0;
  pendingClass: number = PageClass.kernel;
  readonly anomalies: Record<string, number> = {};
  private readonly size: number;
  private readonly fo: number;
  private readonly cho: number;
  private readonly mapo: number;
  private readonly privo: number;
  private readonly mco: number;
  private readonly lru: [number, number] | null;
  private readonly priv: [number, number] | null;
  private readonly swapcache: [number, number] | null;
  private readonly swapbacked: [number, number] | null;
  private readonly slabBit: [number, number] | null;
  private readonly hwpoison: [number, number] | null;
  private readonly reported: [number, number] | null;
  private readonly head: [number, number] | null;
  private readonly hasSlabType: boolean;
  private readonly hasBuddy: boolean;
  private readonly hasOffline: boolean;
  private readonly hasUnaccepted: boolean;
  private readonly hugetlbByType: boolean;
  private readonly ridInvalidOrder: number;
  private readonly ridOrphan: number;
  private readonly ridUnmapped: number;
  private readonly ridNotInDump: number;
  private readonly extra = new Uint8Array(256);

  constructor(
    private readonly c: Classification,
    layout: StructPageLayout,
    flags: PageFlagBits,
    private readonly pt: PageTypeDecoder,
    private readonly compound: CompoundDecoder,
    private readonly memmap: MemMap,
    private readonly presentBytes: Uint8Array,
    reportedBit: number | undefined,
    private readonly nrOrders: number,
    private readonly freeLists: FreeListResult | null,
    rid: (r: UnknownReason) => number,
    private readonly reasonCounts: Float64Array,
  ) {
    this.size = layout.size;
    this.fo = layout.flags;
    this.cho = layout.compoundHead;
    this.mapo = layout.mapping;
    this.privo = layout.private;
    this.mco = layout.mapcount;
    this.lru = bitTest(flags.lru);
    this.priv = bitTest(flags.private);
    this.swapcache = bitTest(flags.swapcache);
    this.swapbacked = bitTest(flags.swapbacked);
    this.slabBit = bitTest(flags.slab);
    this.hwpoison = bitTest(flags.hwpoison);
    this.reported = bitTest(reportedBit);
    let headBit = -1;
    if (flags.headMask > 0n && (flags.headMask & (flags.headMask - 1n)) === 0n) headBit = flags.headMask.toString(2).length - 1;
    this.head = bitTest(headBit);
    this.hasSlabType = pt.values.slab !== undefined;
    this.hasBuddy = pt.values.buddy !== undefined;
    this.hasOffline = pt.values.offline !== undefined;
    this.hasUnaccepted = pt.values.unaccepted !== undefined;
    this.hugetlbByType = compound.hugetlbBy === 'NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)';
    this.ridInvalidOrder = rid('invalid_order');
    this.ridOrphan = rid('orphan_tail');
    this.ridUnmapped = rid('struct_page_unmapped');
    this.ridNotInDump = rid('struct_page_not_in_dump');
  }

  private anomaly(k: string): void {
    this.anomalies[k] = (this.anomalies[k] ?? 0) + 1;
  }

  /** Classify the pfns of one usable section, [s, e). */
  section(s: number, e: number): void {
    const batch = this.memmap.readStructPages(s, e - s);
    const v = batch.view;
    const classOf = this.c.classOf;
    const pb = this.presentBytes;
    const size = this.size;
    const { fo, cho, mapo, privo, mco, pt } = this;
    // Flag tests as (word, mask) pairs; an unknown bit has mask 0 and never matches.
    const [lruW, lruM] = this.lru ?? NO_BIT;
    const [privW, privM] = this.priv ?? NO_BIT;
    const [scW, scM] = this.swapcache ?? NO_BIT;
    const [sbW, sbM] = this.swapbacked ?? NO_BIT;
    const noSwapbacked = this.swapbacked === null;
    const [slabW, slabM] = this.slabBit ?? NO_BIT;
    const [hwW, hwM] = this.hwpoison ?? NO_BIT;
    const [repW, repM] = this.reported ?? NO_BIT;
    const [headW, headM] = this.head ?? NO_BIT;
    const { hasSlabType, hasBuddy, hasOffline, hasUnaccepted, freeLists, nrOrders } = this;
    const reasons = this.reasonCounts;
    const bad = batch.unreadable;
    let bi = 0;
    for (let pfn = s; pfn < e; pfn++) {
      // A hole keeps class `hole`, but its struct page may still head a range (a free block or
      // compound page that continues into present pfns), so readable holes are decoded too.
      const here = (pb[pfn >>> 3]! & (1 << (pfn & 7))) !== 0;
      if (pfn < this.pendingEnd) {
        if (here) classOf[pfn] = this.pendingClass;
        continue;
      }
      if (bi < bad.length) {
        while (bi < bad.length && bad[bi]!.end <= pfn) bi++;
        if (bi < bad.length && bad[bi]!.start <= pfn) {
          if (here) {
            classOf[pfn] = PageClass.unknown;
            reasons[bad[bi]!.reason === 'struct_page_unmapped' ? this.ridUnmapped : this.ridNotInDump]!++;
          }
          continue;
        }
      }
      const off = (pfn - s) * size;
      if ((v.getUint32(off + cho, true) & 1) !== 0) {
        // A tail page outside its head's range (the head was kept page-by-page or unreadable).
        if (here) {
          classOf[pfn] = PageClass.unknown;
          reasons[this.ridOrphan]!++;
        }
        continue;
      }
      const f0 = v.getUint32(off + fo, true);
      const f1 = v.getUint32(off + fo + 4, true);
      const word = v.getUint32(off + mco, true);
      // Untyped pages hold -1 or a mapcount ≥ 0; every scheme's typed values are other negatives.
      const typed = word >= 0x80000000 && word !== 0xffffffff;
      const slab = ((slabW ? f1 : f0) & slabM) !== 0 || (hasSlabType && typed && pt.is(word, 'slab'));

      // Free blocks: buddy heads (page type) or free-list heads.
      if (!slab) {
        let blockOrder = -1;
        let cls: number = PageClass.free;
        if (hasBuddy && typed && pt.is(word, 'buddy')) {
          const lo = v.getUint32(off + privo, true);
          const hi = v.getUint32(off + privo + 4, true);
          blockOrder = hi !== 0 || lo >= nrOrders ? 64 : lo;
          if (pt.isHinted(word) || ((repW ? f1 : f0) & repM) !== 0) cls = PageClass.hinted;
        } else if (freeLists !== null) {
          const o = freeLists.heads.get(pfn);
          if (o !== undefined) {
            blockOrder = o;
            if (((repW ? f1 : f0) & repM) !== 0) cls = PageClass.hinted;
          }
        }
        if (blockOrder < 0 && hasUnaccepted && typed && pt.is(word, 'unaccepted')) blockOrder = nrOrders - 1;
        if (blockOrder >= 0) {
          if (blockOrder >= 64 || pfn % 2 ** blockOrder !== 0) {
            if (here) {
              classOf[pfn] = PageClass.unknown;
              reasons[this.ridInvalidOrder]!++;
            }
            continue;
          }
          if (here) classOf[pfn] = cls;
          this.pendingEnd = pfn + 2 ** blockOrder;
          this.pendingClass = cls;
          continue;
        }
      }

      // Compound head: its order, read from page[1].
      let order = 0;
      let off1 = -1;
      let v1 = v;
      if (((headW ? f1 : f0) & headM) !== 0) {
        if (pfn + 1 < e) off1 = off + size;
        else if (this.memmap.sectionOf(pfn + 1)) {
          // page[1] lies in the next section: read it alone.
          const b = this.memmap.readStructPages(pfn + 1, 1, this.extra);
          if (b.unreadable.length === 0) {
            v1 = new DataView(this.extra.buffer, 0, size);
            off1 = 0;
          }
        }
        if (off1 >= 0 && (v1.getUint32(off1 + cho, true) & 1) !== 0) {
          order = this.compound.order(v1, off1);
          if (order >= 64 || pfn % 2 ** order !== 0) {
            if (here) this.anomaly('invalid_compound_order');
            order = 0;
          }
        } else {
          if (here) this.anomaly('compound_head_without_tail');
          off1 = -1;
        }
      }

      let cls: number;
      if (((hwW ? f1 : f0) & hwM) !== 0) cls = PageClass.hwpoison;
      else if (!slab && hasOffline && typed && pt.is(word, 'offline')) cls = PageClass.offline;
      else {
        const anon = !slab && (v.getUint32(off + mapo, true) & 1) !== 0;
        const cache =
          ((lruW ? f1 : f0) & lruM) !== 0 || (((scW ? f1 : f0) & scM) !== 0 && (noSwapbacked || ((sbW ? f1 : f0) & sbM) !== 0));
        if (cache && !anon) cls = ((privW ? f1 : f0) & privM) !== 0 ? PageClass.cache_private : PageClass.cache;
        else if (anon) cls = PageClass.user;
        else if (off1 >= 0 && this.compound.isHugetlb(v1, off, off1, word)) cls = PageClass.hugetlb;
        else if (off1 < 0 && typed && this.hugetlbByType && pt.is(word, 'hugetlb')) cls = PageClass.hugetlb;
        else if (slab) cls = PageClass.slab;
        else cls = PageClass.kernel;
      }
      if (here) classOf[pfn] = cls;
      if (order > 0) {
        this.pendingEnd = pfn + 2 ** order;
        this.pendingClass = cls;
      }
    }
  }
}
