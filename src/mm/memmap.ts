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
}
const U64 = (1n << 64n) - 1n;

/** Locate mem_map; throws E_MEMMAP only when no memory model can be recognised at all. */
export function locateMemMap(mem: KernelMemory, vi: Vmcoreinfo, maxMapnr: number): MemMap {
  const sizeOpt = vi.size('page');
  if (sizeOpt === undefined) throw new VmcoreError('E_MEMMAP', 'VMCOREINFO lacks SIZE(page): cannot locate mem_map', { key: 'SIZE(page)' });
  const size: number = sizeOpt;
  const l5 = mem.translator.arch === 'x86_64' && mem.translator.l5;
  const kernelHalf = mem.translator.kernelStart;
  const pageSize = mem.pageSize;
  const pageShift = Math.log2(pageSize);
  const sym = vi.symbol('mem_section');
  const msSize = vi.size('mem_section');
  const msOff = vi.offset('mem_section.section_mem_map');
  let model: MemoryModel;
  let sections: MemMapSection[] = [];
  let unusable: UnusableRuns = new UnusableRuns();
  const decidedBy: string[] = [];
  let pagesPerSection: number;

  if (sym !== undefined && msSize !== undefined && msOff !== undefined) {
    if (msSize <= 0 || msSize > pageSize || msOff + 8 > msSize) {
      throw new VmcoreError('E_MEMMAP', `SIZE(mem_section)=${msSize} / OFFSET(mem_section.section_mem_map)=${msOff} are implausible`, {
        key: 'SIZE(mem_section)',
      });
    }
    const sectionSizeBits = vi.numberAsInt('SECTION_SIZE_BITS') ?? 27;
    const maxPhysBits = vi.numberAsInt('MAX_PHYSMEM_BITS') ?? (mem.translator.arch === 'arm64' ? 48 : l5 ? 52 : 46);
    if (sectionSizeBits < pageShift || sectionSizeBits > 40 || maxPhysBits < sectionSizeBits || maxPhysBits > 64) {
      throw new VmcoreError('E_MEMMAP', `SECTION_SIZE_BITS=${sectionSizeBits} / MAX_PHYSMEM_BITS=${maxPhysBits} are implausible`, {
        key: 'NUMBER(SECTION_SIZE_BITS)',
      });
    }
    // A small integer (2 ** n is a double): section pfns derived from it stay unboxed in hot loops.
    pagesPerSection = 1 << (sectionSizeBits - pageShift);
    const nrMemSections = 2 ** (maxPhysBits - sectionSizeBits);
    const spr = Math.floor(pageSize / msSize); // SECTIONS_PER_ROOT = PAGE_SIZE / sizeof(struct mem_section)
    const rootsLen = vi.length('mem_section');
    const extreme = rootsLen === undefined || rootsLen === Math.ceil(nrMemSections / spr);
    model = extreme ? 'sparsemem-extreme' : 'sparsemem';
    decidedBy.push('SYMBOL(mem_section)', 'SIZE(mem_section)', 'OFFSET(mem_section.section_mem_map)');
    if (rootsLen !== undefined) decidedBy.push('LENGTH(mem_section)');
    const nrNeeded = Math.ceil(maxMapnr / pagesPerSection);
    // Flag bits live below the alignment of the encoded value (struct page arrays are aligned to
    // SIZE(page)); masking 6 bits also clears SECTION_IS_VMEMMAP_PREINIT where makedumpfile's
    // 0x1f would not (FORMATS.md §5.3, deliberate deviation).
    const flagMask = size % 64 === 0 ? 0x3fn : 0x1fn;

    const decodeAll = (rootsVa: bigint): { ok: MemMapSection[]; bad: UnusableRuns } => {
      const ok: MemMapSection[] = [];
      const bad = new UnusableRuns();
      const range = (nr: number) => ({ startPfn: nr * pagesPerSection, endPfn: Math.min(maxMapnr, (nr + 1) * pagesPerSection) });
      const decodeEntry = (nr: number, entry: bigint) => {
        const r = range(nr);
        if ((entry & 1n) === 0n) {
          bad.push({ nr, ...r, reason: 'section_not_present', detail: `section ${nr} is not marked present` });
          return;
        }
        const memMap = ((entry & ~flagMask) + BigInt(nr) * BigInt(pagesPerSection) * BigInt(size)) & U64;
        if (memMap < kernelHalf) {
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
      };
      if (extreme) {
        const nRoots = Math.min(Math.ceil(nrNeeded / spr), rootsLen ?? Infinity);
        let roots: DataView;
        try {
          const b = mem.readVirt(rootsVa, nRoots * 8);
          roots = new DataView(b.buffer, b.byteOffset, b.byteLength);
        } catch (e) {
          const detail = `mem_section root array at ${hex(rootsVa)} unreadable: ${(e as Error).message}`;
          for (let nr = 0; nr < nrNeeded; nr++) bad.push({ nr, ...range(nr), reason: 'root_unreadable', detail });
          return { ok, bad };
        }
        for (let ri = 0; ri < nRoots; ri++) {
          const root = roots.getBigUint64(ri * 8, true);
          const first = ri * spr;
          const last = Math.min(nrNeeded, first + spr);
          if (root === 0n) {
            for (let nr = first; nr < last; nr++) {
              bad.push({ nr, ...range(nr), reason: 'section_not_present', detail: `mem_section root ${ri} is NULL` });
            }
            continue;
          }
          let page: DataView;
          try {
            const b = mem.readVirt(root, (last - first) * msSize);
            page = new DataView(b.buffer, b.byteOffset, b.byteLength);
          } catch (e) {
            const detail = `mem_section root ${ri} at ${hex(root)} unreadable: ${(e as Error).message}`;
            for (let nr = first; nr < last; nr++) bad.push({ nr, ...range(nr), reason: 'root_unreadable', detail });
            continue;
          }
          for (let nr = first; nr < last; nr++) decodeEntry(nr, page.getBigUint64((nr - first) * msSize + msOff, true));
        }
      } else {
        let arr: DataView;
        try {
          const b = mem.readVirt(rootsVa, nrNeeded * msSize);
          arr = new DataView(b.buffer, b.byteOffset, b.byteLength);
        } catch (e) {
          const detail = `mem_section array at ${hex(rootsVa)} unreadable: ${(e as Error).message}`;
          for (let nr = 0; nr < nrNeeded; nr++) bad.push({ nr, ...range(nr), reason: 'root_unreadable', detail });
          return { ok, bad };
        }
        for (let nr = 0; nr < nrNeeded; nr++) decodeEntry(nr, arr.getBigUint64(nr * msSize + msOff, true));
      }
      return { ok, bad };
    };

    let r = decodeAll(sym);
    if (r.ok.length === 0 && extreme) {
      // makedumpfile retries with the symbol as the address of the pointer to the root array
      // (what a vmlinux symbol means since Linux 4.15 made mem_section a pointer).
      const ptr = mem.tryReadU64(sym);
      if (ptr !== undefined && ptr >= kernelHalf) {
        const r2 = decodeAll(ptr);
        if (r2.ok.length > 0) r = r2;
      }
    }
    sections = r.ok;
    unusable = r.bad;
  } else if (vi.symbol('mem_map') !== undefined) {
    model = 'flatmem';
    decidedBy.push('SYMBOL(mem_map)');
    pagesPerSection = 32768;
    const symMemMap = vi.symbol('mem_map')!;
    const nrNeeded = Math.ceil(maxMapnr / pagesPerSection);
    const range = (nr: number) => ({ startPfn: nr * pagesPerSection, endPfn: Math.min(maxMapnr, (nr + 1) * pagesPerSection) });
    const base = mem.tryReadU64(symMemMap);
    for (let nr = 0; nr < nrNeeded; nr++) {
      if (base === undefined) {
        unusable.push({ nr, ...range(nr), reason: 'root_unreadable', detail: `mem_map pointer at ${hex(symMemMap)} unreadable` });
      } else if (base < kernelHalf) {
        unusable.push({ nr, ...range(nr), reason: 'mem_map_not_kernel_address', detail: `mem_map ${hex(base)} is not a kernel address` });
      } else {
        sections.push({ nr, ...range(nr), memMap: (base + BigInt(nr * pagesPerSection * size)) & U64 });
      }
    }
  } else {
    const missing = ['SYMBOL(mem_section)', 'SIZE(mem_section)', 'OFFSET(mem_section.section_mem_map)'].filter((k) => !vi.has(k));
    throw new VmcoreError('E_MEMMAP', `cannot distinguish the memory model: VMCOREINFO lacks ${missing.join(', ')} and SYMBOL(mem_map)`, {
      key: missing.join(','),
    });
  }

  const byNr = new Map<number, MemMapSection>();
  for (const s of sections) byNr.set(s.nr, s);
  const byAddr = [...sections].sort((a, b) => (a.memMap < b.memMap ? -1 : a.memMap > b.memMap ? 1 : 0));
  const sz = BigInt(size);
  let shared: Uint8Array | undefined;

  function pfnOfStructPage(va: bigint): number | undefined {
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
    // Sections sharing one vmemmap base may sit back to back; check the candidates near `found`.
    for (const s of found ? [found] : []) {
      const d = va - s.memMap;
      if (d % sz !== 0n) return undefined;
      const idx = Number(d / sz);
      if (idx < s.endPfn - s.startPfn) return s.startPfn + idx;
    }
    return undefined;
  }

  // The last section's mem_map, translated once for all its batches: pieces by byte offset
  // into its struct pages, with their physical address as a number (-1: unmapped).
  let piecesOf = -1;
  let pieces: { off: number; len: number; pa: number }[] = [];
  function sectionPieces(sec: MemMapSection): { off: number; len: number; pa: number }[] {
    if (piecesOf !== sec.nr) {
      pieces = [];
      let off = 0;
      for (const p of mem.mapRange(sec.memMap, (sec.endPfn - sec.startPfn) * size)) {
        pieces.push({ off, len: p.len, pa: p.pa === null ? -1 : Number(p.pa) });
        off += p.len;
      }
      piecesOf = sec.nr;
    }
    return pieces;
  }

  function readStructPages(startPfn: number, count: number, buf?: Uint8Array): StructPageBatch {
    const sec = byNr.get(Math.floor(startPfn / pagesPerSection));
    if (!sec || startPfn + count > sec.endPfn) {
      throw new VmcoreError('E_INTERNAL', `readStructPages(${hex(startPfn)}, ${count}) is not inside one usable section`, { pfn: startPfn });
    }
    const len = count * size;
    let out = buf;
    if (!out) {
      // Callers batch in L2-sized pieces (see Scanner in filter/classify.ts); a section-sized
      // buffer is made only for a caller that asks for one.
      if (!shared || shared.length < len) shared = new Uint8Array(Math.max(len, 128 * 1024));
      out = shared;
    }
    const unreadable: UnreadableRange[] = [];
    const markBad = (off: number, n: number, reason: UnreadableRange['reason']) => {
      out!.fill(0, off, off + n);
      const s = startPfn + Math.floor(off / size);
      const e = startPfn + Math.ceil((off + n) / size);
      const last = unreadable[unreadable.length - 1];
      if (last && last.reason === reason && last.end >= s) last.end = Math.max(last.end, e);
      else unreadable.push({ start: s, end: e, reason });
    };
    let reads = 0;
    const base = (startPfn - sec.startPfn) * size;
    const end = base + len;
    for (const p of sectionPieces(sec)) {
      if (p.off + p.len <= base) continue;
      if (p.off >= end) break;
      const s = Math.max(base, p.off);
      const off = s - base;
      const n = Math.min(end, p.off + p.len) - s;
      if (p.pa < 0) {
        markBad(off, n, 'struct_page_unmapped');
        continue;
      }
      const pa = p.pa + (s - p.off);
      if (mem.physPresentAt(pa, n)) {
        mem.readPhysAt(pa, n, out, off);
        reads++;
        continue;
      }
      // Split the piece into present and absent physical pages.
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
          reads++;
        } else markBad(off + pOff, k, 'struct_page_not_in_dump');
        pOff += k;
      }
    }
    return { view: new DataView(out.buffer, out.byteOffset, len), startPfn, count, unreadable, reads };
  }

  return {
    model,
    pagesPerSection,
    structPageSize: size,
    sections,
    unusable: [...unusable],
    unusableSections: unusable.sectionCount,
    decidedBy,
    sectionOf: (pfn) => byNr.get(Math.floor(pfn / pagesPerSection)),
    pfnOfStructPage,
    readStructPages,
  };
}
