/**
 * Locating mem_map (the struct page arrays) from VMCOREINFO and reading struct pages in
 * batches (FORMATS.md §5.1–5.3). A section whose mem_map cannot be decoded or translated is
 * unusable — its pages are kept by the filter and the reason counted — never a crash.
 */
import { VmcoreError, hex } from '../errors.js';
import type { Vmcoreinfo } from '../vmcoreinfo/parse.js';
import type { KernelMemory } from '../memory/kernel.js';

export type MemoryModel = 'sparsemem-extreme' | 'sparsemem' | 'flatmem';

/** One memory section with a usable mem_map. */
export interface MemMapSection {
  nr: number;
  startPfn: number;
  /** One past the last pfn of the section (capped at max_mapnr). */
  endPfn: number;
  /** Kernel virtual address of the struct page of `startPfn`. */
  memMap: bigint;
}

/** A section (or range) whose struct pages cannot be used, with the reason. */
export interface UnusableSection {
  nr: number;
  startPfn: number;
  endPfn: number;
  reason: 'section_not_present' | 'root_unreadable' | 'mem_map_not_kernel_address' | 'mem_map_untranslatable' | 'no_mem_map';
  detail: string;
}

/** A pfn range inside a batch whose struct pages could not be read. */
export interface UnreadableRange {
  start: number;
  end: number;
  reason: 'struct_page_unmapped' | 'struct_page_not_in_dump';
}

/** Struct pages of `[startPfn, startPfn+count)`, decoded by the caller with DataView. */
export interface StructPageBatch {
  /** `count * SIZE(page)` bytes; struct page of pfn p at `(p - startPfn) * SIZE(page)`. */
  view: DataView;
  startPfn: number;
  count: number;
  /** Sub-ranges whose bytes are zeros because they could not be read. Sorted, disjoint. */
  unreadable: UnreadableRange[];
  /** Number of physical reads issued for this batch. */
  reads: number;
}

export interface MemMap {
  model: MemoryModel;
  pagesPerSection: number;
  structPageSize: number;
  /** Usable sections in pfn order. */
  sections: MemMapSection[];
  /**
   * Sections that exist in pfn space below max_mapnr but cannot be read, in pfn order; adjacent
   * ones with the same reason are one entry (the first's nr and detail), so a sparse pfn space
   * of 2^34 pfns costs a few entries, not one per section.
   */
  unusable: UnusableSection[];
  /** Sections in {@link unusable} (before merging). */
  unusableSections: number;
  /** The keys that decided the model. */
  decidedBy: string[];
  /** Section holding `pfn`, if usable. */
  sectionOf(pfn: number): MemMapSection | undefined;
  /** The pfn whose struct page is at kernel virtual `va` (must be at a struct page boundary). */
  pfnOfStructPage(va: bigint): number | undefined;
  /**
   * Read the struct pages of `[startPfn, startPfn+count)` (all inside one section): the range is
   * translated once and read in physically contiguous runs. The returned view is valid until
   * the next call (a buffer is reused) unless `buf` is given.
   */
  readStructPages(startPfn: number, count: number, buf?: Uint8Array): StructPageBatch;
}

/** Unusable sections, adjacent ones with the same reason merged as they are pushed. */
class UnusableRuns extends Array<UnusableSection> {
  sectionCount = 0;
  static override get [Symbol.species]() {
    return Array;
  }
  override push(...items: UnusableSection[]): number {
    for (const u of items) {
      this.sectionCount++;
      const last = this[this.length - 1];
      if (last && last.reason === u.reason && last.endPfn === u.startPfn) last.endPfn = u.endPfn;
      else super.push({ ...u });
    }
    return this.length;
  }
  /**
   * Sections [first, last) all unusable for one reason: what pushing them one by one gives, in
   * one step (a NULL mem_section root of a 2^40-pfn space stands for 2^15 sections; pushing each
   * with its object and string took most of such a run's time).
   */
  pushSections(g: Pick<SparseGeometry, 'pagesPerSection' | 'maxMapnr'>, first: number, last: number, reason: UnusableSection['reason'], detail: string): void {
    if (last <= first) return;
    this.push({ nr: first, startPfn: sectionRange(g, first).startPfn, endPfn: sectionRange(g, last - 1).endPfn, reason, detail });
    this.sectionCount += last - first - 1;
  }
}
const U64 = (1n << 64n) - 1n;

/** Usable and unusable sections, as one model's decoder finds them. */
interface Found {
  model: MemoryModel;
  pagesPerSection: number;
  sections: MemMapSection[];
  unusable: UnusableRuns;
  decidedBy: string[];
}

/** Locate mem_map; throws E_MEMMAP only when no memory model can be recognised at all. */
export function locateMemMap(mem: KernelMemory, vi: Vmcoreinfo, maxMapnr: number): MemMap {
  const size = vi.size('page');
  if (size === undefined) throw new VmcoreError('E_MEMMAP', 'VMCOREINFO lacks SIZE(page): cannot locate mem_map', { key: 'SIZE(page)' });
  let f: Found;
  if (vi.symbol('mem_section') !== undefined && vi.size('mem_section') !== undefined && vi.offset('mem_section.section_mem_map') !== undefined) {
    f = sparseSections(mem, vi, maxMapnr, size);
  } else if (vi.symbol('mem_map') !== undefined) {
    f = flatSections(mem, vi.symbol('mem_map')!, maxMapnr, size);
  } else {
    const missing = ['SYMBOL(mem_section)', 'SIZE(mem_section)', 'OFFSET(mem_section.section_mem_map)'].filter((k) => !vi.has(k));
    throw new VmcoreError('E_MEMMAP', `cannot distinguish the memory model: VMCOREINFO lacks ${missing.join(', ')} and SYMBOL(mem_map)`, {
      key: missing.join(','),
    });
  }
  const pages = new StructPageReader(mem, f.sections, f.pagesPerSection, size);
  return {
    model: f.model,
    pagesPerSection: f.pagesPerSection,
    structPageSize: size,
    sections: f.sections,
    unusable: [...f.unusable],
    unusableSections: f.unusable.sectionCount,
    decidedBy: f.decidedBy,
    sectionOf: (pfn) => pages.sectionOf(pfn),
    pfnOfStructPage: (va) => pages.pfnOfStructPage(va),
    readStructPages: (startPfn, count, buf) => pages.read(startPfn, count, buf),
  };
}

/** What decoding SPARSEMEM's mem_section entries needs (FORMATS.md §5.2). */
interface SparseGeometry {
  size: number;
  msSize: number;
  msOff: number;
  pagesPerSection: number;
  /** Sections below max_mapnr. */
  nrNeeded: number;
  /** SECTIONS_PER_ROOT = PAGE_SIZE / sizeof(struct mem_section). */
  spr: number;
  rootsLen: number | undefined;
  extreme: boolean;
  flagMask: bigint;
  kernelHalf: bigint;
  maxMapnr: number;
}

function sparseGeometry(mem: KernelMemory, vi: Vmcoreinfo, maxMapnr: number, size: number): SparseGeometry {
  const msSize = vi.size('mem_section')!;
  const msOff = vi.offset('mem_section.section_mem_map')!;
  const pageSize = mem.pageSize;
  if (msSize <= 0 || msSize > pageSize || msOff + 8 > msSize) {
    throw new VmcoreError('E_MEMMAP', `SIZE(mem_section)=${msSize} / OFFSET(mem_section.section_mem_map)=${msOff} are implausible`, {
      key: 'SIZE(mem_section)',
    });
  }
  const l5 = mem.translator.arch === 'x86_64' && mem.translator.l5;
  const sectionSizeBits = vi.numberAsInt('SECTION_SIZE_BITS') ?? 27;
  const maxPhysBits = vi.numberAsInt('MAX_PHYSMEM_BITS') ?? (mem.translator.arch === 'arm64' ? 48 : l5 ? 52 : 46);
  const pageShift = Math.log2(pageSize);
  if (sectionSizeBits < pageShift || sectionSizeBits > 40 || maxPhysBits < sectionSizeBits || maxPhysBits > 64) {
    throw new VmcoreError('E_MEMMAP', `SECTION_SIZE_BITS=${sectionSizeBits} / MAX_PHYSMEM_BITS=${maxPhysBits} are implausible`, {
      key: 'NUMBER(SECTION_SIZE_BITS)',
    });
  }
  // A small integer (2 ** n is a double): section pfns derived from it stay unboxed in hot loops.
  const pagesPerSection = 1 << (sectionSizeBits - pageShift);
  const spr = Math.floor(pageSize / msSize);
  const rootsLen = vi.length('mem_section');
  return {
    size,
    msSize,
    msOff,
    pagesPerSection,
    nrNeeded: Math.ceil(maxMapnr / pagesPerSection),
    spr,
    rootsLen,
    extreme: rootsLen === undefined || rootsLen === Math.ceil(2 ** (maxPhysBits - sectionSizeBits) / spr),
    // Flag bits live below the alignment of the encoded value (struct page arrays are aligned to
    // SIZE(page)); masking 6 bits also clears SECTION_IS_VMEMMAP_PREINIT where makedumpfile's
    // 0x1f would not (FORMATS.md §5.3, deliberate deviation).
    flagMask: size % 64 === 0 ? 0x3fn : 0x1fn,
    kernelHalf: mem.translator.kernelStart,
    maxMapnr,
  };
}

/** SPARSEMEM (classic or extreme): every section's mem_section entry decoded. */
function sparseSections(mem: KernelMemory, vi: Vmcoreinfo, maxMapnr: number, size: number): Found {
  const g = sparseGeometry(mem, vi, maxMapnr, size);
  const decidedBy = ['SYMBOL(mem_section)', 'SIZE(mem_section)', 'OFFSET(mem_section.section_mem_map)'];
  if (g.rootsLen !== undefined) decidedBy.push('LENGTH(mem_section)');
  const sym = vi.symbol('mem_section')!;
  let r = decodeSections(mem, g, sym);
  if (r.ok.length === 0 && g.extreme) {
    // makedumpfile retries with the symbol as the address of the pointer to the root array
    // (what a vmlinux symbol means since Linux 4.15 made mem_section a pointer).
    const ptr = mem.tryReadU64(sym);
    if (ptr !== undefined && ptr >= g.kernelHalf) {
      const r2 = decodeSections(mem, g, ptr);
      if (r2.ok.length > 0) r = r2;
    }
  }
  return { model: g.extreme ? 'sparsemem-extreme' : 'sparsemem', pagesPerSection: g.pagesPerSection, sections: r.ok, unusable: r.bad, decidedBy };
}

/** The pfn range of section `nr`. */
function sectionRange(g: Pick<SparseGeometry, 'pagesPerSection' | 'maxMapnr'>, nr: number): { startPfn: number; endPfn: number } {
  return { startPfn: nr * g.pagesPerSection, endPfn: Math.min(g.maxMapnr, (nr + 1) * g.pagesPerSection) };
}

/** Sections whose mem_section array (extreme: root array) is at `rootsVa`. */
function decodeSections(mem: KernelMemory, g: SparseGeometry, rootsVa: bigint): { ok: MemMapSection[]; bad: UnusableRuns } {
  const ok: MemMapSection[] = [];
  const bad = new UnusableRuns();
  const allBad = (detail: string) => {
    bad.pushSections(g, 0, g.nrNeeded, 'root_unreadable', detail);
    return { ok, bad };
  };
  if (!g.extreme) {
    let arr: DataView;
    try {
      arr = viewOf(mem.readVirt(rootsVa, g.nrNeeded * g.msSize));
    } catch (e) {
      return allBad(`mem_section array at ${hex(rootsVa)} unreadable: ${(e as Error).message}`);
    }
    for (let nr = 0; nr < g.nrNeeded; nr++) decodeEntry(mem, g, nr, arr.getBigUint64(nr * g.msSize + g.msOff, true), ok, bad);
    return { ok, bad };
  }
  const nRoots = Math.min(Math.ceil(g.nrNeeded / g.spr), g.rootsLen ?? Infinity);
  let roots: DataView;
  try {
    roots = viewOf(mem.readVirt(rootsVa, nRoots * 8));
  } catch (e) {
    return allBad(`mem_section root array at ${hex(rootsVa)} unreadable: ${(e as Error).message}`);
  }
  for (let ri = 0; ri < nRoots; ri++) decodeRoot(mem, g, ri, roots.getBigUint64(ri * 8, true), ok, bad);
  return { ok, bad };
}

function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** The sections of SPARSEMEM_EXTREME root `ri` (at `root`). */
function decodeRoot(mem: KernelMemory, g: SparseGeometry, ri: number, root: bigint, ok: MemMapSection[], bad: UnusableRuns): void {
  const first = ri * g.spr;
  const last = Math.min(g.nrNeeded, first + g.spr);
  if (root === 0n) {
    bad.pushSections(g, first, last, 'section_not_present', `mem_section root ${ri} is NULL`);
    return;
  }
  let page: DataView;
  try {
    page = viewOf(mem.readVirt(root, (last - first) * g.msSize));
  } catch (e) {
    const detail = `mem_section root ${ri} at ${hex(root)} unreadable: ${(e as Error).message}`;
    bad.pushSections(g, first, last, 'root_unreadable', detail);
    return;
  }
  for (let nr = first; nr < last; nr++) decodeEntry(mem, g, nr, page.getBigUint64((nr - first) * g.msSize + g.msOff, true), ok, bad);
}

/** One section's encoded section_mem_map: usable (ok) or why not (bad). */
function decodeEntry(mem: KernelMemory, g: SparseGeometry, nr: number, entry: bigint, ok: MemMapSection[], bad: UnusableRuns): void {
  const r = sectionRange(g, nr);
  if ((entry & 1n) === 0n) {
    bad.push({ nr, ...r, reason: 'section_not_present', detail: `section ${nr} is not marked present` });
    return;
  }
  const memMap = ((entry & ~g.flagMask) + BigInt(nr) * BigInt(g.pagesPerSection) * BigInt(g.size)) & U64;
  if (memMap < g.kernelHalf) {
    bad.push({ nr, ...r, reason: 'mem_map_not_kernel_address', detail: `section ${nr}: mem_map ${hex(memMap)} is not a kernel address` });
    return;
  }
  if (mem.translator.tryTranslate(memMap) === undefined) {
    let detail = `section ${nr}: mem_map ${hex(memMap)} does not translate`;
    try {
      mem.translator.translate(memMap);
    } catch (e) {
      if (e instanceof Error) detail = `section ${nr}: ${e.message}`;
    }
    bad.push({ nr, ...r, reason: 'mem_map_untranslatable', detail });
    return;
  }
  ok.push({ nr, ...r, memMap });
}

/** FLATMEM: one mem_map array, cut in 32768-pfn pieces like sections. */
function flatSections(mem: KernelMemory, symMemMap: bigint, maxMapnr: number, size: number): Found {
  const pagesPerSection = 32768;
  const g = { pagesPerSection, maxMapnr };
  const sections: MemMapSection[] = [];
  const unusable = new UnusableRuns();
  const kernelHalf = mem.translator.kernelStart;
  const nrNeeded = Math.ceil(maxMapnr / pagesPerSection);
  const base = mem.tryReadU64(symMemMap);
  for (let nr = 0; nr < nrNeeded; nr++) {
    if (base === undefined) {
      unusable.push({ nr, ...sectionRange(g, nr), reason: 'root_unreadable', detail: `mem_map pointer at ${hex(symMemMap)} unreadable` });
    } else if (base < kernelHalf) {
      unusable.push({ nr, ...sectionRange(g, nr), reason: 'mem_map_not_kernel_address', detail: `mem_map ${hex(base)} is not a kernel address` });
    } else {
      sections.push({ nr, ...sectionRange(g, nr), memMap: (base + BigInt(nr * pagesPerSection * size)) & U64 });
    }
  }
  return { model: 'flatmem', pagesPerSection, sections, unusable, decidedBy: ['SYMBOL(mem_map)'] };
}

/** A piece of a section's mem_map: bytes [off, off+len) of its struct pages at physical `pa` (-1: unmapped). */
interface Piece {
  off: number;
  len: number;
  pa: number;
}

/** Reads struct pages of usable sections, and finds the pfn of a struct page address. */
class StructPageReader {
  private readonly byNr = new Map<number, MemMapSection>();
  private readonly byAddr: MemMapSection[];
  private readonly sz: bigint;
  private shared: Uint8Array | undefined;
  /** The last section's mem_map, translated once for all its batches. */
  private piecesOf = -1;
  private pieces: Piece[] = [];

  constructor(
    private readonly mem: KernelMemory,
    sections: MemMapSection[],
    private readonly pagesPerSection: number,
    private readonly size: number,
  ) {
    for (const s of sections) this.byNr.set(s.nr, s);
    this.byAddr = [...sections].sort((a, b) => (a.memMap < b.memMap ? -1 : a.memMap > b.memMap ? 1 : 0));
    this.sz = BigInt(size);
  }

  sectionOf(pfn: number): MemMapSection | undefined {
    return this.byNr.get(Math.floor(pfn / this.pagesPerSection));
  }

  pfnOfStructPage(va: bigint): number | undefined {
    const byAddr = this.byAddr;
    let lo = 0;
    let hi = byAddr.length - 1;
    let found: MemMapSection | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const s = byAddr[mid]!;
      if (s.memMap <= va) {
        found = s;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (!found) return undefined;
    const d = va - found.memMap;
    if (d % this.sz !== 0n) return undefined;
    const idx = Number(d / this.sz);
    return idx < found.endPfn - found.startPfn ? found.startPfn + idx : undefined;
  }

  private sectionPieces(sec: MemMapSection): Piece[] {
    if (this.piecesOf !== sec.nr) {
      this.pieces = [];
      let off = 0;
      for (const p of this.mem.mapRange(sec.memMap, (sec.endPfn - sec.startPfn) * this.size)) {
        this.pieces.push({ off, len: p.len, pa: p.pa === null ? -1 : Number(p.pa) });
        off += p.len;
      }
      this.piecesOf = sec.nr;
    }
    return this.pieces;
  }

  read(startPfn: number, count: number, buf?: Uint8Array): StructPageBatch {
    const sec = this.sectionOf(startPfn);
    if (!sec || startPfn + count > sec.endPfn) {
      throw new VmcoreError('E_INTERNAL', `readStructPages(${hex(startPfn)}, ${count}) is not inside one usable section`, { pfn: startPfn });
    }
    const size = this.size;
    const len = count * size;
    let out = buf;
    if (!out) {
      // Callers batch in L2-sized pieces (see Scanner in filter/scan.ts); a section-sized
      // buffer is made only for a caller that asks for one.
      if (!this.shared || this.shared.length < len) this.shared = new Uint8Array(Math.max(len, 128 * 1024));
      out = this.shared;
    }
    const b: StructPageBatch = { view: new DataView(out.buffer, out.byteOffset, len), startPfn, count, unreadable: [], reads: 0 };
    const base = (startPfn - sec.startPfn) * size;
    const end = base + len;
    for (const p of this.sectionPieces(sec)) {
      if (p.off + p.len <= base) continue;
      if (p.off >= end) break;
      const s = Math.max(base, p.off);
      const n = Math.min(end, p.off + p.len) - s;
      if (p.pa < 0) this.markBad(b, out, s - base, n, 'struct_page_unmapped');
      else this.readPiece(b, out, p.pa + (s - p.off), s - base, n);
    }
    return b;
  }

  /** Bytes [off, off+n) of the batch from physical `pa`: the present pages read, the others zeroed and marked. */
  private readPiece(b: StructPageBatch, out: Uint8Array, pa: number, off: number, n: number): void {
    const mem = this.mem;
    if (mem.physPresentAt(pa, n)) {
      mem.readPhysAt(pa, n, out, off);
      b.reads++;
      return;
    }
    // Split the piece into present and absent physical pages.
    const pageSize = mem.pageSize;
    let pOff = 0;
    while (pOff < n) {
      const at = pa + pOff;
      let k = Math.min(pageSize - (at % pageSize), n - pOff);
      const present = mem.physPresentAt(at, k);
      while (pOff + k < n) {
        const k2 = Math.min(pageSize, n - pOff - k);
        if (mem.physPresentAt(at + k, k2) !== present) break;
        k += k2;
      }
      if (present) {
        mem.readPhysAt(at, k, out, off + pOff);
        b.reads++;
      } else this.markBad(b, out, off + pOff, k, 'struct_page_not_in_dump');
      pOff += k;
    }
  }

  /** Zero bytes [off, off+n) of the batch and record their pfns as unreadable for `reason`. */
  private markBad(b: StructPageBatch, out: Uint8Array, off: number, n: number, reason: UnreadableRange['reason']): void {
    out.fill(0, off, off + n);
    const s = b.startPfn + Math.floor(off / this.size);
    const e = b.startPfn + Math.ceil((off + n) / this.size);
    const last = b.unreadable[b.unreadable.length - 1];
    if (last && last.reason === reason && last.end >= s) last.end = Math.max(last.end, e);
    else b.unreadable.push({ start: s, end: e, reason });
  }
}
