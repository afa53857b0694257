/**
 * kdump-compressed writer, header_version 6 (FORMATS.md §6.1–6.8, §6.10 via a flattened sink).
 *
 * Layout: block 0 disk_dump_header; block 1 kdump_sub_header + the input notes copied verbatim at
 * block_size + 104; the 1st and 2nd bitmaps, each padded to whole blocks; one 24-byte page_desc per
 * 2nd-bitmap bit (ascending pfn); the data area: the shared zero page first (dump level bit 1),
 * then each non-zero page's stored bytes in pfn order, compressed or raw (flags 0).
 *
 * One file is written in steps ({@link KdumpFileWriter}): the header blocks; then, window by
 * window, the window's part of both bitmaps at its known offset and its pages' descriptors and
 * data (./page-data.ts); then the finish. A bitmap chunk that is all zero is left as a hole in a
 * new file (a sparse file: a huge, mostly empty pfn space costs no disk). On a full disk the
 * descriptors of pages already on disk are written and the header marked incomplete. Memory: one
 * window's bitmaps plus a few MiB, independent of the dump's size.
 */
import { VmcoreError, hex } from '../../errors.js';
import type { Bitmap } from '../../io/bitmap.js';
import type { BatchCompressor } from '../../compress/batch.js';
import type { PageCodec } from '../../compress/codec.js';
import type { PageWriterInput, PfnWindow, PfnWindows } from '../dump.js';
import {
  DUMP_DH_COMPRESSED_INCOMPLETE,
  DiskDumpHeader,
  KDUMP_HEADER_VERSION,
  KDUMP_SIGNATURE,
  KdumpSubHeader,
  PAGE_DESC_SIZE,
  UTS_LEN,
  computeLayout,
  type DiskDumpHeaderValue,
  type KdumpLayout,
} from './layout.js';
import { DescriptorQueue, PageDataWriter, WriteChain } from './page-data.js';
import { TrackedSink, markIncomplete, type DumpSink } from './sink.js';

export { BATCH_PAGES, IN_PROCESS_BATCH_PAGES, WriteChain } from './page-data.js';

// Bitmaps are written (or left as holes) in chunks of this size, cut at absolute multiples of it.
const BITMAP_CHUNK = 1 << 20;

export interface KdumpWriteOptions {
  /** Compression; absent = every page stored raw (flags 0). */
  codec?: PageCodec | null;
  /** Dump level bit 1: all-zero pages share one stored zero page (they keep their bitmap bit). */
  zeroPages: boolean;
  /** `--split` part: only dumpable pfns in [startPfn, endPfn) are stored in this file. */
  split?: { startPfn: number; endPfn: number };
  /**
   * Informational: the sink is a flattened stream. The sink's own `flattened` decides behaviour
   * (no header rewrite for the incomplete flag); a mismatch is refused.
   */
  flattened?: boolean;
  /** Called after each batch with pages done and total pages to write. */
  onProgress?: (done: number, total: number) => void;
  /** Stop between batches (throws the signal's reason). */
  signal?: AbortSignal;
  /**
   * Compress in worker threads (`--num-threads`): batches go to `compressor` while the next ones
   * are read. Used only with a codec of the same name; the output is byte-identical either way.
   */
  compressor?: BatchCompressor | null;
}

export interface KdumpWriteStats {
  /** Page descriptors written (dumpable pfns stored in this file, zero pages included). */
  pages: number;
  /** Pages that pointed at the shared zero page. */
  zeroPages: number;
  /** Pages stored raw (flags 0, excluding zero pages). */
  rawPages: number;
  /** Pages stored compressed, by page_desc flag. */
  byFlag: Record<number, number>;
  /** Bytes of the data area (zero page included). */
  dataBytes: number;
  /**
   * Every byte handed to the sink, framing included (makedumpfile's "Write bytes"); bitmap
   * chunks left as holes count as written (the file holds them, as zeros).
   */
  bytesWritten: number;
  /** End of the file (highest offset written); for a flattened stream, the reassembled size. */
  fileSize: number;
  /** Pfns dumpable in the whole dump (the descriptor area is sized for these). */
  numDumpable: number;
  incomplete: boolean;
}

/** The whole-dump bitmaps as one window (callers without windows: tests, reassembly). */
function wholeDumpWindow(input: PageWriterInput): PfnWindows {
  const d = input.dumpable;
  return {
    numDumpable: d.count(0, Math.min(input.maxMapnr, d.nbits)),
    windows: () => [{ start: 0, end: input.maxMapnr, present: input.present, dumpable: d }],
  };
}

/**
 * Write the bytes of window `w` of a bitmap (`bm`, bit i = pfn `w.start + i`) at their place in
 * the bitmap at `base`: chunks of at most BITMAP_CHUNK bytes cut at absolute multiples of it (a
 * single window writes what the whole-dump writer wrote, chunk for chunk), the last window up
 * to the block padding. All-zero chunks go to {@link WriteChain.zeros} (a hole where it can).
 */
async function writeBitmapWindow(chain: WriteChain, bm: Bitmap, w: PfnWindow, maxMapnr: number, base: number, bitmapLen: number): Promise<void> {
  const from = w.start / 8;
  const to = w.end >= maxMapnr ? bitmapLen : w.end / 8;
  for (let off = from; off < to; ) {
    const len = Math.min(to, (Math.floor(off / BITMAP_CHUNK) + 1) * BITMAP_CHUNK) - off;
    const bytes = () => bitmapBytes(bm, maxMapnr - w.start, off - from, len);
    if (w.empty || isZeroBytes(bm.bytes, off - from, len)) await chain.zeros(base + off, len, bytes);
    else await chain.write(base + off, bytes());
    off += len;
  }
}

/** True if bytes [from, from + len) of `b` that exist are all zero. */
function isZeroBytes(b: Uint8Array, from: number, len: number): boolean {
  const end = Math.min(b.length, from + len);
  let i = from;
  for (; i < end && (b.byteOffset + i) % 4 !== 0; i++) if (b[i] !== 0) return false;
  const n = Math.floor((end - i) / 4);
  const words = new Uint32Array(b.buffer, b.byteOffset + i, n);
  for (let k = 0; k < n; k++) if (words[k] !== 0) return false;
  for (i += 4 * n; i < end; i++) if (b[i] !== 0) return false;
  return true;
}

/** Copy `bm` (nbits ≥ maxMapnr) into a block-padded buffer, clearing bits ≥ maxMapnr. */
function bitmapBytes(bm: Bitmap, maxMapnr: number, from: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  const have = Math.ceil(maxMapnr / 8);
  const end = Math.min(have, from + len);
  if (end > from && from < bm.bytes.length) out.set(bm.bytes.subarray(from, Math.min(end, bm.bytes.length)), 0);
  // Bits past max_mapnr in the last byte must read 0.
  const lastByte = have - 1;
  if (maxMapnr % 8 !== 0 && lastByte >= from && lastByte < from + len) {
    out[lastByte - from]! &= (1 << (maxMapnr % 8)) - 1;
  }
  return out;
}

/** Encode the disk_dump_header block for `input` with `status`. */
export function encodeDiskDumpHeader(input: PageWriterInput, layout: KdumpLayout, status: number): Uint8Array {
  const u = input.info.utsname;
  const cut = (s: string) => s.slice(0, UTS_LEN - 1);
  const h: DiskDumpHeaderValue = {
    signature: KDUMP_SIGNATURE,
    headerVersion: KDUMP_HEADER_VERSION,
    sysname: cut(u.sysname),
    nodename: cut(u.nodename),
    release: cut(u.release),
    version: cut(u.version),
    machine: cut(u.machine),
    domainname: cut(u.domainname),
    tvSec: BigInt(input.info.crashTime),
    tvUsec: 0n,
    status,
    blockSize: layout.blockSize,
    subHdrSize: layout.subHdrSize,
    bitmapBlocks: layout.bitmapBlocks,
    maxMapnr: Math.min(input.maxMapnr, 0xffffffff),
    totalRamBlocks: 0,
    deviceBlocks: 0,
    writtenBlocks: 0,
    currentCpu: 0,
    nrCpus: input.info.nrCpus,
  };
  const b = new Uint8Array(layout.blockSize);
  DiskDumpHeader.encode(h, b, 0);
  return b;
}

/** The kdump_sub_header blocks: the sub-header, then the input's notes copied verbatim. */
function encodeSubHeaderBlocks(input: PageWriterInput, layout: KdumpLayout, part: { start: number; end: number } | null): Uint8Array {
  const ps = input.info.pageSize;
  const notes = input.info.notes;
  const split = part !== null;
  const start = part?.start ?? 0;
  const end = part?.end ?? 0;
  const sub = new Uint8Array(layout.subHdrSize * ps);
  const vi = input.info.vmcoreinfo;
  KdumpSubHeader.encode(
    {
      physBase: BigInt.asUintN(64, input.info.physBase),
      dumpLevel: input.dumpLevel,
      split: split ? 1 : 0,
      startPfn: split ? BigInt(Math.min(start, 0xffffffff)) : 0n,
      endPfn: split ? BigInt(Math.min(end, 0xffffffff)) : 0n,
      offsetVmcoreinfo: vi ? BigInt(layout.offsetNote + vi.offsetInNotes) : 0n,
      sizeVmcoreinfo: vi ? BigInt(vi.size) : 0n,
      offsetNote: BigInt(layout.offsetNote),
      sizeNote: BigInt(notes.length),
      offsetEraseinfo: 0n,
      sizeEraseinfo: 0n,
      startPfn64: split ? BigInt(start) : 0n,
      endPfn64: split ? BigInt(end) : 0n,
      maxMapnr64: BigInt(input.maxMapnr),
    },
    sub,
    0,
  );
  sub.set(notes, KdumpSubHeader.size);
  return sub;
}


/**
 * After a full disk: write the buffered descriptors of pages already on disk (so a reader can
 * use them) and mark the header incomplete (not for a flattened stream).
 */
async function onNoSpace(
  e: VmcoreError,
  input: PageWriterInput,
  layout: KdumpLayout,
  status: number,
  sink: DumpSink,
  tracked: TrackedSink,
  stats: KdumpWriteStats,
  descQueue: DescriptorQueue | null,
): Promise<void> {
  const keep = sink.writeSync && !sink.flattened ? descQueue?.salvage(tracked.onDisk) : null;
  if (keep) {
    // The descriptor area lies before the data, inside the file's size: this usually fits
    // even on a full disk (and always under a size limit). Best effort.
    try {
      tracked.writeSync!(keep.pos, keep.bytes);
    } catch {
      /* the header still says incomplete */
    }
  }
  await markIncomplete(e, sink, stats, tracked.highWater, encodeDiskDumpHeader(input, layout, status | DUMP_DH_COMPRESSED_INCOMPLETE));
}

/** Refuse what no kdump file can be: a page size that is no block size, a sink of the other kind. */
function checkKdumpArgs(input: PageWriterInput, sink: DumpSink, opts: KdumpWriteOptions): void {
  const ps = input.info.pageSize;
  if (ps < 512 || ps > 65536 || (ps & (ps - 1)) !== 0) {
    throw new VmcoreError('E_INTERNAL', `page size ${ps} cannot be a kdump block size`);
  }
  if (opts.flattened !== undefined && opts.flattened !== sink.flattened) {
    throw new VmcoreError('E_INTERNAL', `flattened option (${opts.flattened}) does not match the sink`);
  }
  const split = opts.split;
  if (split && !(split.startPfn >= 0 && split.startPfn <= split.endPfn && split.endPfn <= input.maxMapnr)) {
    throw new VmcoreError('E_INTERNAL', `split range [${hex(split.startPfn)}, ${hex(split.endPfn)}) is outside [0, ${hex(input.maxMapnr)})`);
  }
}

/**
 * A `--split` part's pfn range. Set before the windows for a known range; while they go by when
 * the cuts are found on the way ({@link KdumpFileWriter.setPart}: `Infinity` until known).
 */
export interface PartRange {
  start: number;
  end: number;
}

/**
 * One kdump-compressed file, written in steps: {@link begin} (the header blocks), {@link window}
 * for each window in ascending order (its bitmaps, then its pages), {@link end} (the last
 * descriptors, the sink's finish) or {@link fail} after an error. Several can be fed the same
 * windows (the parts of `--split`).
 */
export class KdumpFileWriter {
  readonly stats: KdumpWriteStats;
  private readonly layout: KdumpLayout;
  private readonly status: number;
  /** Knows how far the writes reach (file size; for the full-disk path, bytes on disk). */
  private readonly tracked: TrackedSink;
  private readonly chain: WriteChain;
  private readonly pages: PageDataWriter;
  private readonly zeroPages: boolean;
  private first = true;
  private subHeaderWritten = false;

  /**
   * `numDumpable`: pfns dumpable in the whole dump (they size the descriptor area); `total`:
   * pages this file stores (progress); `part`: a split part's range, null for a whole dump.
   */
  constructor(
    private readonly input: PageWriterInput,
    private readonly sink: DumpSink,
    opts: KdumpWriteOptions,
    numDumpable: number,
    total: number,
    private part: PartRange | null,
  ) {
    checkKdumpArgs(input, sink, opts);
    const ps = input.info.pageSize;
    this.layout = computeLayout(ps, input.maxMapnr, input.info.notes.length);
    if (this.layout.bitmapBlocks > 0xffffffff || this.layout.pdOffset + PAGE_DESC_SIZE * numDumpable > Number.MAX_SAFE_INTEGER) {
      // disk_dump_header.bitmap_blocks is 32 bits: past 2^46 pfns of 4 KiB no kdump file can say where its pages are.
      throw new VmcoreError('E_LIMIT', `max_mapnr ${input.maxMapnr} needs ${this.layout.bitmapBlocks} bitmap blocks, more than a kdump-compressed header can hold (2^32 - 1)`);
    }
    const codec = opts.codec ?? null;
    this.status = codec ? codec.flag : 0;
    this.zeroPages = opts.zeroPages;
    this.stats = { pages: 0, zeroPages: 0, rawPages: 0, byFlag: {}, dataBytes: 0, bytesWritten: 0, fileSize: 0, numDumpable, incomplete: false };
    this.tracked = new TrackedSink(sink);
    // With a compressor this thread has its own share of batches to compress: writes go to the
    // thread pool. In process (one thread), synchronous writes are faster.
    this.chain = new WriteChain(this.tracked, { sync: !(opts.codec && opts.compressor) });
    const dataStart = this.layout.pdOffset + PAGE_DESC_SIZE * numDumpable;
    const pageOpts = { codec, zeroPages: opts.zeroPages, compressor: opts.compressor ?? null, onProgress: opts.onProgress, signal: opts.signal };
    const descs = new DescriptorQueue(this.chain, this.layout.pdOffset);
    const read = (pfn: number, n: number, buf: Uint8Array, off: number) => input.readPages(pfn, n, buf, off);
    this.pages = new PageDataWriter(read, ps, this.chain, descs, dataStart, this.stats, total, pageOpts, !!sink.writeSync);
  }

  /** Block 0, the header; block 1.., the sub-header and the notes (once the part's range is known). */
  async begin(): Promise<void> {
    await this.tracked.write(0, encodeDiskDumpHeader(this.input, this.layout, this.status));
    await this.writeSubHeader();
  }

  /** A split part's range as far as the cuts found so far tell (before the window it starts in). */
  setPart(part: PartRange): void {
    this.part = part;
  }

  /** The window's part of both bitmaps, then its dumpable pages in this file's range. */
  async window(w: PfnWindow): Promise<void> {
    const { layout } = this;
    const maxMapnr = this.input.maxMapnr;
    // On the write chain: after the previous window's data (a flattened stream takes one write
    // at a time, in order).
    await writeBitmapWindow(this.chain, w.present, w, maxMapnr, layout.bitmap1Offset, layout.bitmapBytes);
    await writeBitmapWindow(this.chain, w.dumpable, w, maxMapnr, layout.bitmap2Offset, layout.bitmapBytes);
    // The zero page follows the first window's bitmaps (where the whole-dump writer wrote it).
    if (this.first && this.zeroPages) this.pages.writeZeroPage();
    this.first = false;
    if (w.empty) return;
    const d = w.dumpable;
    const from = Math.max(this.part?.start ?? 0, w.start);
    const to = Math.min(this.part?.end ?? maxMapnr, maxMapnr, w.end, w.start + d.nbits);
    for (let pfn = from; pfn < to; ) {
      const local = d.nextSet(pfn - w.start, to - w.start);
      if (local < 0) break;
      const runEnd = w.start + d.nextClear(local, to - w.start);
      await this.pages.addRun(w.start + local, runEnd);
      pfn = runEnd;
    }
  }

  /** The last pages and descriptors, the sink finished; the statistics. */
  async end(): Promise<KdumpWriteStats> {
    if (this.first && this.zeroPages) this.pages.writeZeroPage();
    await this.pages.finish();
    this.stats.dataBytes = this.pages.dataBytes;
    await this.chain.drain();
    await this.writeSubHeader();
    // A dump whose last descriptors are the zero page (or that has none) still needs its
    // descriptor area and zero page on disk: the chain wrote them.
    await this.sink.finish();
    this.stats.bytesWritten = this.sink.bytesWritten;
    this.stats.fileSize = this.tracked.highWater;
    return this.stats;
  }

  /**
   * After `e` was thrown by a step: let queued writes finish (or fail) before the header is
   * touched again; on a full disk, salvage the descriptors and mark the header incomplete.
   */
  async fail(e: unknown): Promise<void> {
    await this.chain.settle();
    if (e instanceof VmcoreError && e.code === 'E_NO_SPACE') {
      await onNoSpace(e, this.input, this.layout, this.status, this.sink, this.tracked, this.stats, this.pages.descs);
    }
  }

  /** True if this writer's chain has failed (the error came from its own output). */
  get failed(): boolean {
    return this.chain.failed;
  }

  private async writeSubHeader(): Promise<void> {
    const part = this.part;
    if (this.subHeaderWritten || (part && !(Number.isFinite(part.start) && Number.isFinite(part.end)))) return;
    await this.tracked.write(this.input.info.pageSize, encodeSubHeaderBlocks(this.input, this.layout, part));
    this.subHeaderWritten = true;
  }
}

/**
 * Write `input` as a kdump-compressed file to `sink`, from its windows (or its whole bitmaps).
 * Resolves with statistics. On ENOSPC the header is rewritten with the incomplete flag (not for
 * flattened output) and the E_NO_SPACE error is rethrown with `data.incomplete = true` and `data.stats`.
 */
export async function writeKdump(input: PageWriterInput, sink: DumpSink, opts: KdumpWriteOptions): Promise<KdumpWriteStats> {
  const split = opts.split;
  if (split && input.windows) throw new VmcoreError('E_INTERNAL', 'a --split part with a fixed range is written from whole bitmaps, not windows');
  const source = input.windows ?? wholeDumpWindow(input);
  const part = split ? { start: Math.max(0, split.startPfn), end: Math.min(input.maxMapnr, split.endPfn) } : null;
  checkKdumpArgs(input, sink, opts);
  const total = part ? input.dumpable.count(part.start, Math.min(part.end, input.dumpable.nbits)) : source.numDumpable;
  const file = new KdumpFileWriter(input, sink, opts, source.numDumpable, total, part);
  try {
    await file.begin();
    for (const w of source.windows()) await file.window(w);
    return await file.end();
  } catch (e) {
    await file.fail(e);
    throw e;
  }
}
