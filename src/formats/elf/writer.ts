/**
 * ELF64 vmcore writer for `-E` (FORMATS.md §1.5): Ehdr (ET_CORE, the input's e_machine), one PT_NOTE holding the
 * input notes, then PT_LOADs that cover exactly what the input's PT_LOADs covered, with every
 * excluded run of pages cut out of the file.
 *
 * How excluded pages are cut, per input PT_LOAD, walking its pages with the dumpable bitmap:
 * - a run of kept pages is file data; an excluded run of at least `minHolePages` pages that
 *   follows it becomes that PT_LOAD's `p_filesz < p_memsz` tail, and the next kept page starts a
 *   new PT_LOAD (so `p_memsz` still spans the memory: readers see "excluded", not "hole");
 * - an excluded run at the start of the input PT_LOAD becomes a PT_LOAD with `p_filesz = 0`;
 * - a trailing excluded run of any length is the last PT_LOAD's tail;
 * - an excluded run shorter than `minHolePages` (between kept pages, or leading) is written as
 *   zero-filled pages — never read — because a program header (56 bytes) costs less than a page
 *   only when the run is short enough; the default of 1 cuts everything.
 * Excluded pages are never read. Pages partly inside an input PT_LOAD (unaligned p_paddr or end)
 * contribute only their in-segment bytes, kept or cut by their pfn's bit like any page.
 *
 * Placement: page data is written back to back right after the notes, not page aligned, as
 * makedumpfile does. Every reader we target (libkdumpfile, drgn, crash, makedumpfile) uses
 * positioned reads and accepts any p_offset; aligning would only serve mmap and costs up to a
 * page per PT_LOAD.
 *
 * The kernel-text PT_LOAD (which overlaps RAM) is processed like any other and therefore kept:
 * it is how ELF readers translate kernel-image virtual addresses.
 *
 * More than 65534 program headers use PN_XNUM: e_phnum = 0xffff and the real count in sh_info of
 * one section header placed right after the program headers (as makedumpfile writes it).
 */
import { VmcoreError, hex } from '../../errors.js';
import type { PfnSet } from '../../io/pfn-set.js';
import type { PageWriterInput } from '../dump.js';
import { SequentialWriter, TrackedSink, markIncomplete, yieldToEventLoop, type DumpSink } from '../kdump/sink.js';
import {
  EHDR_SIZE,
  ELF_INCOMPLETE_FLAG,
  PHDR_SIZE,
  PN_XNUM,
  PT_LOAD,
  PT_NOTE,
  encodeEhdr,
  encodePhdr,
  vmcoreEhdr,
} from './layout.js';

/** One input PT_LOAD. */
export interface ElfLoad {
  paddr: bigint;
  vaddr: bigint;
  memsz: number;
  flags: number;
}

export interface ElfWriterInput extends Omit<PageWriterInput, 'dumpable'> {
  /** Pfns to dump: a bitmap, or (the windowed filter) runs bounded by their number. */
  dumpable: PfnSet;
  /** The input's PT_LOADs, in program-header order. */
  loads: ElfLoad[];
  /** The input's note segment, copied verbatim. */
  noteSegment: Buffer;
  /** e_machine (EM_X86_64 when absent; EM_AARCH64 for an arm64 dump). */
  machine?: number;
}

export interface ElfWriteOptions {
  /** Excluded runs shorter than this are written as zero pages instead of being cut (≥ 1). */
  minHolePages: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface ElfWriteStats {
  /** Program headers written (PT_NOTE included). */
  phnum: number;
  /** PT_LOADs written. */
  loads: number;
  /** Pages read and written (a page of the kernel-text PT_LOAD counts again). */
  pagesWritten: number;
  /** Excluded pages written as zeros (runs shorter than minHolePages). */
  zeroFilledPages: number;
  /** Excluded pages cut out of the file (inside p_memsz, outside p_filesz). */
  pagesCut: number;
  bytesWritten: number;
  fileSize: number;
  incomplete: boolean;
}

const SHDR_SIZE = 64;
// 128 KiB: read into a cache-resident buffer and written from it (see IN_PROCESS_BATCH_PAGES).
const BATCH_PAGES = 32;
const YIELD_MS = 25;
const DATA_BUFFER = 1 << 20;
const PHDR_BUFFER = PHDR_SIZE * 1024;

/** A PT_LOAD to write: physical byte ranges [memStart, fileEnd) in the file, [fileEnd, memEnd) cut. */
interface Piece {
  load: number;
  memStart: number;
  fileEnd: number;
  memEnd: number;
}

function toNumber(v: bigint, what: string): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new VmcoreError('E_LIMIT', `${what} ${hex(v)} is out of range`);
  return Number(v);
}

/** The PT_LOADs that load `li` becomes, in address order. */
function* planLoad(li: number, load: ElfLoad, dumpable: PfnSet, ps: number, minHole: number): Generator<Piece> {
  const start = toNumber(load.paddr, `PT_LOAD ${li} p_paddr`);
  const end = start + load.memsz;
  if (load.memsz === 0) {
    yield { load: li, memStart: start, fileEnd: start, memEnd: start };
    return;
  }
  const first = Math.floor(start / ps);
  const last = Math.ceil(end / ps);
  const slotStart = (p: number) => Math.max(start, p * ps);
  const slotEnd = (p: number) => Math.min(end, (p + 1) * ps);
  const nbits = dumpable.nbits;
  const kept = (p: number) => p < nbits && dumpable.get(p);
  let cur: { memStart: number; fileEnd: number } | null = null;
  for (let p = first; p < last; ) {
    if (kept(p)) {
      const q = Math.min(dumpable.nextClear(p), last);
      if (cur) cur.fileEnd = slotEnd(q - 1);
      else cur = { memStart: slotStart(p), fileEnd: slotEnd(q - 1) };
      p = q;
      continue;
    }
    const ns = p < nbits ? dumpable.nextSet(p) : -1;
    const q = ns < 0 || ns > last ? last : ns;
    if (q === last) {
      // Trailing excluded run, any length: the tail of the last PT_LOAD.
      if (cur) yield { load: li, memStart: cur.memStart, fileEnd: cur.fileEnd, memEnd: end };
      else yield { load: li, memStart: slotStart(p), fileEnd: slotStart(p), memEnd: end };
      return;
    }
    if (q - p >= minHole) {
      if (cur) yield { load: li, memStart: cur.memStart, fileEnd: cur.fileEnd, memEnd: slotStart(q) };
      else yield { load: li, memStart: slotStart(p), fileEnd: slotStart(p), memEnd: slotStart(q) };
      cur = null;
    } else if (cur) cur.fileEnd = slotEnd(q - 1);
    else cur = { memStart: slotStart(p), fileEnd: slotEnd(q - 1) };
    p = q;
  }
  if (cur) yield { load: li, memStart: cur.memStart, fileEnd: cur.fileEnd, memEnd: cur.fileEnd };
}

function encodeXnumShdr(phnum: number): Uint8Array {
  const b = new Uint8Array(SHDR_SIZE);
  const v = new DataView(b.buffer);
  v.setBigUint64(32, 1n, true); // sh_size
  v.setUint32(44, phnum, true); // sh_info: the real e_phnum
  return b;
}

/** Every PT_LOAD to write, with the input PT_LOAD it comes from, in file order. */
function* plannedLoads(input: ElfWriterInput, ps: number, minHole: number): Generator<[ElfLoad, Piece]> {
  for (const [li, load] of input.loads.entries()) {
    for (const pc of planLoad(li, load, input.dumpable, ps, minHole)) yield [load, pc];
  }
}

/** Where the headers, notes and page data go; e_phnum is PN_XNUM from 65535 headers on. */
interface ElfLayout {
  ehdr: ReturnType<typeof vmcoreEhdr>;
  phnum: number;
  xnum: boolean;
  shdrOff: number;
  noteOff: number;
  dataStart: number;
}

function elfLayout(phnum: number, noteBytes: number, machine: number | undefined): ElfLayout {
  const xnum = phnum >= PN_XNUM;
  const shdrOff = EHDR_SIZE + PHDR_SIZE * phnum;
  const noteOff = shdrOff + (xnum ? SHDR_SIZE : 0);
  const ehdr = vmcoreEhdr(xnum ? PN_XNUM : phnum, machine);
  if (xnum) {
    ehdr.shoff = shdrOff;
    ehdr.shentsize = SHDR_SIZE;
    ehdr.shnum = 1;
  }
  return { ehdr, phnum, xnum, shdrOff, noteOff, dataStart: noteOff + noteBytes };
}

/**
 * Write `input` as an ELF64 vmcore to `sink`. On ENOSPC the header is rewritten with e_flags bit 0
 * (incomplete; not for flattened output) and E_NO_SPACE is rethrown with `data.stats`.
 */
export async function writeElf(input: ElfWriterInput, sink: DumpSink, opts: ElfWriteOptions): Promise<ElfWriteStats> {
  const ps = input.info.pageSize;
  const minHole = Math.max(1, Math.floor(opts.minHolePages));
  const notes = input.noteSegment;

  // Pass 1 (bitmap only): count program headers and pages to write.
  let nLoads = 0;
  let totalPages = 0;
  for (const [, pc] of plannedLoads(input, ps, minHole)) {
    nLoads++;
    if (pc.fileEnd > pc.memStart) totalPages += Math.ceil(pc.fileEnd / ps) - Math.floor(pc.memStart / ps);
  }
  const layout = elfLayout(1 + nLoads, notes.length, input.machine);
  const { ehdr } = layout;
  const stats: ElfWriteStats = {
    phnum: layout.phnum,
    loads: nLoads,
    pagesWritten: 0,
    zeroFilledPages: 0,
    pagesCut: 0,
    bytesWritten: 0,
    fileSize: 0,
    incomplete: false,
  };
  const tracked = new TrackedSink(sink);

  try {
    await tracked.write(0, encodeEhdr(ehdr));
    if (layout.xnum) await tracked.write(layout.shdrOff, encodeXnumShdr(layout.phnum));
    if (notes.length) await tracked.write(layout.noteOff, notes);
    const out = new LoadWriter(tracked, input, opts, layout, stats, totalPages);
    for (const [load, pc] of plannedLoads(input, ps, minHole)) await out.write(load, pc);
    await out.flush();
    await sink.finish();
  } catch (e) {
    if (e instanceof VmcoreError && e.code === 'E_NO_SPACE') {
      await markIncomplete(e, sink, stats, tracked.highWater, encodeEhdr({ ...ehdr, flags: ehdr.flags | ELF_INCOMPLETE_FLAG }));
    }
    throw e;
  }
  stats.bytesWritten = sink.bytesWritten;
  stats.fileSize = tracked.highWater;
  return stats;
}

/** Pass 2: the program header (PT_NOTE first) and the file data of every planned PT_LOAD, in order. */
class LoadWriter {
  private readonly phdrs: SequentialWriter;
  private readonly data: SequentialWriter;
  private readonly ph = new Uint8Array(PHDR_SIZE);
  private readonly ps: number;
  private readonly pageBuf: Uint8Array;
  private readonly zeros: Uint8Array;
  private lastYield = performance.now();

  constructor(
    tracked: TrackedSink,
    private readonly input: ElfWriterInput,
    private readonly opts: ElfWriteOptions,
    layout: ElfLayout,
    private readonly stats: ElfWriteStats,
    private readonly totalPages: number,
  ) {
    this.phdrs = new SequentialWriter(tracked, EHDR_SIZE, PHDR_BUFFER);
    this.data = new SequentialWriter(tracked, layout.dataStart, DATA_BUFFER);
    const notes = input.noteSegment.length;
    encodePhdr({ type: PT_NOTE, flags: 0, offset: layout.noteOff, vaddr: 0n, paddr: 0n, filesz: notes, memsz: notes, align: 0n }, this.ph, 0);
    this.phdrs.append(this.ph);
    this.ps = input.info.pageSize;
    this.pageBuf = new Uint8Array(BATCH_PAGES * this.ps);
    this.zeros = new Uint8Array(this.ps);
  }

  async write(load: ElfLoad, pc: Piece): Promise<void> {
    const { phdrs, data, ph, ps } = this;
    if (phdrs.space < PHDR_SIZE) {
      // Program headers on disk never describe data that is not yet on disk.
      await data.flush();
      await phdrs.flush();
    }
    encodePhdr(
      {
        type: PT_LOAD,
        flags: load.flags,
        offset: data.pos,
        vaddr: BigInt.asUintN(64, load.vaddr + BigInt(pc.memStart - Number(load.paddr))),
        paddr: BigInt(pc.memStart),
        filesz: pc.fileEnd - pc.memStart,
        memsz: pc.memEnd - pc.memStart,
        align: 0n,
      },
      ph,
      0,
    );
    phdrs.append(ph);
    this.stats.pagesCut += Math.ceil(pc.memEnd / ps) - Math.ceil(pc.fileEnd / ps);
    await this.writeData(pc);
  }

  /** File data: kept pages read in runs, short excluded runs as zeros. */
  private async writeData(pc: Piece): Promise<void> {
    const { ps, data, stats, pageBuf } = this;
    const dumpable = this.input.dumpable;
    const pFirst = Math.floor(pc.memStart / ps);
    const pLast = Math.ceil(pc.fileEnd / ps);
    for (let p = pFirst; p < pLast; ) {
      if (!(p < dumpable.nbits && dumpable.get(p))) {
        const zero = this.zeros.subarray(Math.max(pc.memStart, p * ps) - p * ps, Math.min(pc.fileEnd, (p + 1) * ps) - p * ps);
        if (data.space < zero.length) await data.flush();
        data.append(zero);
        stats.zeroFilledPages++;
        p++;
        continue;
      }
      const q = Math.min(dumpable.nextClear(p), pLast, p + BATCH_PAGES);
      this.input.readPages(p, q - p, pageBuf, 0);
      // Pages p..q-1 lie back to back in pageBuf; only the first and last can be partial
      // (unaligned PT_LOAD edges), so their in-segment bytes are one contiguous range.
      await data.appendLarge(pageBuf.subarray(Math.max(pc.memStart, p * ps) - p * ps, Math.min(pc.fileEnd, q * ps) - p * ps));
      stats.pagesWritten += q - p;
      p = q;
      this.progress();
      if (performance.now() - this.lastYield >= YIELD_MS) {
        // Synchronous writes never give the event loop a turn by themselves: a signal
        // handler (temporary file clean-up) must still run promptly.
        await yieldToEventLoop();
        this.lastYield = performance.now();
      }
    }
  }

  /** Report progress; stop if aborted. */
  private progress(): void {
    const { opts, stats } = this;
    opts.onProgress?.(stats.pagesWritten + stats.zeroFilledPages, this.totalPages);
    if (opts.signal?.aborted) throw opts.signal.reason ?? new VmcoreError('E_INTERNAL', 'aborted');
  }

  async flush(): Promise<void> {
    await this.data.flush();
    await this.phdrs.flush();
  }
}
