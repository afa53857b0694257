/**
 * kdump-compressed writer, header_version 6 (FORMATS.md §6.1–6.8, §6.10 via a flattened sink).
 *
 * Layout: block 0 disk_dump_header; block 1 kdump_sub_header + the input notes copied verbatim at
 * block_size + 104; the 1st and 2nd bitmaps, each padded to whole blocks; one 24-byte page_desc per
 * 2nd-bitmap bit (ascending pfn); the data area: the shared zero page first (dump level bit 1),
 * then each non-zero page's stored bytes in pfn order, compressed or raw (flags 0).
 *
 * Pages are read in runs of adjacent dumpable pfns (one positional read per run and batch; an
 * excluded page is never read). In process, {@link IN_PROCESS_BATCH_PAGES} at a time into one
 * cache-resident buffer, compressed by {@link compressBatch} (or packed in place when raw) and
 * written from there. With a {@link BatchCompressor} (worker threads), {@link BATCH_PAGES} at a
 * time: as pfn runs that the workers read themselves when the compressor can, else as page
 * buffers; a few batches per worker are outstanding. Results are taken in batch order, so the
 * file is the same whatever the thread count. Each batch's stored bytes go out as one write, its
 * descriptors through a 24 KiB buffer, in order on a {@link WriteChain} (at once for a file; queued
 * for a flattened stream). On a full disk the descriptors of pages already on disk are written
 * and the header marked incomplete. Memory: the caller's bitmaps plus a few MiB, independent of
 * the dump's size.
 */
import { VmcoreError, hex } from '../../errors.js';
import type { Bitmap } from '../../io/bitmap.js';
import { allocCompressedBatch, compressBatch, packRawBatch, type BatchCompressor, type CompressedBatch } from '../../compress/batch.js';
import type { PageCodec } from '../../compress/codec.js';
import type { PageWriterInput, PfnWindows } from '../dump.js';
import {
  DUMP_DH_COMPRESSED_INCOMPLETE,
  DiskDumpHeader,
  KDUMP_HEADER_VERSION,
  KDUMP_SIGNATURE,
  KdumpSubHeader,
  PAGE_DESC_SIZE,
  PageDesc,
  UTS_LEN,
  computeLayout,
  type DiskDumpHeaderValue,
  type KdumpLayout,
} from './layout.js';
import { TrackedSink, markIncomplete, yieldToEventLoop, type DumpSink } from './sink.js';

/** Pages read and compressed per batch (one worker message: 1 MiB of 4 KiB pages). */
export const BATCH_PAGES = 256;
// Descriptors are flushed every 1024 pages (after the data they point to), so that an ENOSPC
// loses at most that many pages' descriptors, as makedumpfile's 64 KiB write caches do.
const DESC_BUFFER = 24 * 1024;
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
  /** Every byte handed to the sink, framing included (makedumpfile's "Write bytes"). */
  bytesWritten: number;
  /** End of the file (highest offset written); for a flattened stream, the reassembled size. */
  fileSize: number;
  /** Pfns dumpable in the whole dump (the descriptor area is sized for these). */
  numDumpable: number;
  incomplete: boolean;
}

const zeroBlock = (n: number) => new Uint8Array(n);
const DONE: Promise<void> = Promise.resolve();

/**
 * Pages per batch when compressing in process (or not at all): 128 KiB of 4 KiB pages. Reading
 * into a buffer that stays in the L2 cache and writing it out again from there is 4–5x faster
 * here than with 1 MiB batches (measured: 120 MB read in 17 ms vs 83 ms).
 */
export const IN_PROCESS_BATCH_PAGES = 32;
/** The writers give the event loop a turn this often (ms), so a signal handler can run. */
const YIELD_MS = 25;

/** The whole-dump bitmaps as one window (split parts, and callers without windows). */
function wholeDumpWindow(input: PageWriterInput): PfnWindows {
  const d = input.dumpable;
  return {
    numDumpable: d.count(0, Math.min(input.maxMapnr, d.nbits)),
    windows: () => [{ start: 0, end: input.maxMapnr, present: input.present, dumpable: d }],
  };
}

/**
 * Write the bytes of one window of a bitmap (bit i of `bm` = pfn `start + i`) at their place in
 * the bitmap at `base`: chunks of at most BITMAP_CHUNK bytes cut at absolute multiples of it (a
 * single window writes what the whole-dump writer wrote, chunk for chunk), the last window up
 * to the block padding.
 */
async function writeBitmapWindow(
  put: (pos: number, data: Uint8Array) => Promise<void>,
  bm: Bitmap,
  start: number,
  end: number,
  maxMapnr: number,
  base: number,
  bitmapLen: number,
): Promise<void> {
  const from = start / 8;
  const to = end >= maxMapnr ? bitmapLen : end / 8;
  for (let off = from; off < to; ) {
    const len = Math.min(to, (Math.floor(off / BITMAP_CHUNK) + 1) * BITMAP_CHUNK) - off;
    await put(base + off, bitmapBytes(bm, maxMapnr - start, off - from, len));
    off += len;
  }
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

/** A page buffer and what is still using it. */
interface Slot {
  /** BATCH_PAGES pages; replaced by the view a compressor hands back (the buffer travelled). */
  pages: Uint8Array;
  /** In-process result buffer (null with a compressor). */
  own: CompressedBatch | null;
  /** Settles when the last write reading this slot's bytes has finished. */
  written: Promise<void> | null;
}

/**
 * Positional writes handed to a sink one at a time and in order, without the caller waiting for
 * each: it reads and compresses the next batches while earlier ones are written. Order makes
 * the ENOSPC rule hold (descriptors are queued after the data they point to) and keeps a
 * flattened stream's records in sequence. After a failure every later write is refused.
 */
export class WriteChain {
  private tail: Promise<void> = Promise.resolve();
  private error: unknown = null;
  /**
   * `sync: false`: a sink that can write synchronously is still written through its async
   * write (on libuv's thread pool), so this thread goes on compressing while the data is copied
   * to the page cache: measured on 1 GiB `-d 1 -l` (2 cores, loaded), 1.0–1.7 s against 2.0–2.4 s.
   */
  constructor(
    private readonly sink: DumpSink,
    private readonly opts: { sync: boolean } = { sync: true },
  ) {}
  /**
   * Queue `data` for `pos`; it must stay unchanged until the returned promise settles. A sink
   * that writes synchronously (a file) is written at once: nothing is ever queued, so order
   * holds trivially and the caller's buffer is free on return.
   */
  write(pos: number, data: Uint8Array): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (this.sink.writeSync && this.opts.sync) {
      try {
        this.sink.writeSync(pos, data);
        return DONE;
      } catch (e) {
        this.error = e;
        const p = Promise.reject(e);
        p.catch(() => {});
        return p;
      }
    }
    const p = this.tail.then(() => {
      if (this.error) throw this.error;
      return this.sink.write(pos, data);
    });
    this.tail = p.catch((e) => {
      this.error ??= e;
    });
    p.catch(() => {}); // the error is kept for drain(); a caller may not await this write
    return p;
  }
  /** True once a write has failed (every later write is refused). */
  get failed(): boolean {
    return this.error !== null;
  }
  /** Wait for every queued write; throws the first write error. */
  async drain(): Promise<void> {
    await this.tail;
    if (this.error) throw this.error;
  }
  /** Wait for every queued write, ignoring errors. */
  settle(): Promise<void> {
    return this.tail;
  }
}

/**
 * page_desc entries appended in pfn order and written through a {@link WriteChain} every
 * {@link DESC_BUFFER} bytes (1024 descriptors: an ENOSPC loses at most those, as makedumpfile's
 * 64 KiB write caches do). Encodes without BigInt or per-page allocation.
 */
class DescriptorQueue {
  private buf: Uint8Array = new Uint8Array(DESC_BUFFER);
  private view = new DataView(this.buf.buffer);
  private used = 0;
  private readonly free: Uint8Array[] = [];
  /** Chunks handed to the chain and not yet written, in file order (async writes). */
  private readonly queued: { pos: number; bytes: Uint8Array }[] = [];
  constructor(
    private readonly chain: WriteChain,
    private pos: number,
  ) {}
  /** A descriptor for `size` stored bytes at file offset `offset` with `flags`. */
  append(offset: number, size: number, flags: number): void {
    // Full only after a failed write (flush keeps the buffer then, for salvage): drop the rest.
    if (this.used === this.buf.length) return;
    const v = this.view;
    const o = this.used;
    v.setUint32(o, offset >>> 0, true);
    v.setUint32(o + 4, Math.floor(offset / 0x1_0000_0000), true);
    v.setUint32(o + 8, size, true);
    v.setUint32(o + 12, flags, true);
    v.setUint32(o + 16, 0, true);
    v.setUint32(o + 20, 0, true);
    this.used += PAGE_DESC_SIZE;
    // Flushed as soon as full (not at the next append): the data these point to is already
    // queued, and the next batch's data may be what fills the disk.
    if (this.used === this.buf.length) this.flush();
  }
  /** A ready-made descriptor (the shared zero page's). */
  appendCopy(d: Uint8Array): void {
    if (this.used === this.buf.length) return;
    this.buf.set(d, this.used);
    this.used += PAGE_DESC_SIZE;
    if (this.used === this.buf.length) this.flush();
  }
  /**
   * After a full disk: the buffered descriptors (a prefix, in pfn order) whose stored bytes end at
   * or before `onDisk`, with the file offset they belong at. Writing them lets a reader use the
   * pages already on disk; those after them stay zero (unreadable, as in makedumpfile's
   * incomplete dumps).
   */
  salvage(onDisk: number): { pos: number; bytes: Uint8Array } | null {
    // With async writes, chunks queued before the failure were refused with it: they come first
    // (the file offsets run on from one chunk to the next).
    const parts = [...this.queued.map((q) => q.bytes), this.buf.subarray(0, this.used)];
    const start = this.queued[0]?.pos ?? this.pos;
    const kept: Uint8Array[] = [];
    for (const part of parts) {
      const v = new DataView(part.buffer, part.byteOffset, part.length);
      let o = 0;
      for (; o < part.length; o += PAGE_DESC_SIZE) {
        const offset = v.getUint32(o, true) + v.getUint32(o + 4, true) * 0x1_0000_0000;
        if (offset + v.getUint32(o + 8, true) > onDisk) break;
      }
      if (o > 0) kept.push(part.subarray(0, o));
      if (o < part.length) break;
    }
    if (!kept.length) return null;
    const bytes = kept.length === 1 ? kept[0]! : new Uint8Array(kept.reduce((n, k) => n + k.length, 0));
    if (kept.length > 1) kept.reduce((at, k) => (bytes.set(k, at), at + k.length), 0);
    return { pos: start, bytes };
  }
  /** Queue what is buffered; the buffer comes back to the free list once written. */
  flush(): void {
    // After a failure nothing more is written; what is buffered stays for salvage().
    if (this.used === 0 || this.chain.failed) return;
    const b = this.buf;
    const n = this.used;
    const q = { pos: this.pos, bytes: b.subarray(0, n) };
    this.queued.push(q);
    void this.chain.write(this.pos, q.bytes).then(
      () => {
        this.queued.splice(this.queued.indexOf(q), 1);
        this.free.push(b);
      },
      () => {},
    );
    this.pos += n;
    this.buf = this.free.pop() ?? new Uint8Array(DESC_BUFFER);
    this.view = new DataView(this.buf.buffer);
    this.used = 0;
  }
}

/**
 * Write `input` as a kdump-compressed file to `sink`. Resolves with statistics. On ENOSPC the
 * header is rewritten with the incomplete flag (not for flattened output) and the E_NO_SPACE
 * error is rethrown with `data.incomplete = true` and `data.stats`.
 */
export async function writeKdump(input: PageWriterInput, sink: DumpSink, opts: KdumpWriteOptions): Promise<KdumpWriteStats> {
  const ps = input.info.pageSize;
  if (ps < 512 || ps > 65536 || (ps & (ps - 1)) !== 0) {
    throw new VmcoreError('E_INTERNAL', `page size ${ps} cannot be a kdump block size`);
  }
  if (opts.flattened !== undefined && opts.flattened !== sink.flattened) {
    throw new VmcoreError('E_INTERNAL', `flattened option (${opts.flattened}) does not match the sink`);
  }
  const maxMapnr = input.maxMapnr;
  const notes = input.info.notes;
  const layout = computeLayout(ps, maxMapnr, notes.length);
  const codec = opts.codec ?? null;
  const split = opts.split;
  const start = split ? Math.max(0, split.startPfn) : 0;
  const end = split ? Math.min(maxMapnr, split.endPfn) : maxMapnr;
  if (split && !(split.startPfn >= 0 && split.startPfn <= split.endPfn && split.endPfn <= maxMapnr)) {
    throw new VmcoreError('E_INTERNAL', `split range [${hex(split.startPfn)}, ${hex(split.endPfn)}) is outside [0, ${hex(maxMapnr)})`);
  }
  if (split && input.windows) throw new VmcoreError('E_INTERNAL', 'a --split part is written from whole bitmaps, not windows');
  const source = input.windows ?? wholeDumpWindow(input);
  const numDumpable = source.numDumpable;
  const total = split ? input.dumpable.count(start, Math.min(end, input.dumpable.nbits)) : numDumpable;
  const dataStart = layout.pdOffset + PAGE_DESC_SIZE * numDumpable;
  const status = codec ? codec.flag : 0;

  const stats: KdumpWriteStats = {
    pages: 0,
    zeroPages: 0,
    rawPages: 0,
    byFlag: {},
    dataBytes: 0,
    bytesWritten: 0,
    fileSize: 0,
    numDumpable,
    incomplete: false,
  };
  // Knows how far the writes reach (file size; for the full-disk path, bytes on disk).
  const tracked = new TrackedSink(sink);
  const put = (pos: number, data: Uint8Array) => tracked.write(pos, data);
  // With a compressor this thread has its own share of batches to compress (or, reading workers,
  // messages to answer): writes go to the thread pool. In process, synchronous writes are faster.
  const chain = new WriteChain(tracked, { sync: !opts.compressor });
  let descQueue: DescriptorQueue | null = null;

  try {
    // Block 0: header. Block 1..: sub header and the notes copy.
    await put(0, encodeDiskDumpHeader(input, layout, status));
    await put(ps, encodeSubHeaderBlocks(input, layout, split ? { start, end } : null));

    // Descriptors and data: batches of pages are read (main thread), compressed (here or in the
    // compressor's workers, several batches ahead), then their data and descriptors are queued
    // on the write chain, which writes while the next batches are read.
    const descs = new DescriptorQueue(chain, layout.pdOffset);
    descQueue = descs;
    let dataPos = dataStart;
    const zeroDesc = new Uint8Array(PAGE_DESC_SIZE);
    // Written after the first window's bitmaps (where the whole-dump writer wrote it).
    const writeZeroPage = () => {
      PageDesc.encode({ offset: BigInt(dataStart), size: ps, flags: 0, pageFlags: 0n }, zeroDesc, 0);
      void chain.write(dataStart, zeroBlock(ps));
      dataPos += ps;
    };
    // Uncompressed output may still go through a pool: reading workers ('none'), pages stored raw.
    const compressor = opts.compressor ?? null;
    if (compressor && compressor.codec !== (codec ? codec.name : 'none')) {
      throw new VmcoreError('E_INTERNAL', `compressor codec ${compressor.codec} is not ${codec ? codec.name : 'none'}`);
    }
    // Workers that read the dump themselves are sent pfn runs, not pages.
    const byRuns = compressor?.compressRuns ? compressor : null;
    // Worker batches are large (one message each); in-process batches small (cache-resident).
    const batchPages = compressor ? BATCH_PAGES : IN_PROCESS_BATCH_PAGES;
    const nSlots = compressor ? compressor.capacity + 2 : sink.writeSync ? 1 : 3;
    const slots: Slot[] = [];
    for (let i = 0; i < nSlots; i++) {
      slots.push({
        pages: new Uint8Array(byRuns ? 0 : batchPages * ps),
        own: compressor ? null : allocCompressedBatch(batchPages, ps, codec !== null),
        written: null,
      });
    }
    const pending: { slot: Slot; count: number; job: Promise<{ pages: Uint8Array | null; result: CompressedBatch }> }[] = [];

    const afterBatch = (n: number): void => {
      stats.pages += n;
      opts.onProgress?.(stats.pages, total);
      if (opts.signal?.aborted) throw opts.signal.reason ?? new VmcoreError('E_INTERNAL', 'aborted');
    };
    // Stored (compressed or raw) pages of one batch: one data write, then the descriptors.
    const emitStored = (slot: Slot, r: CompressedBatch, n: number, release?: (r: CompressedBatch) => void): void => {
      const start = dataPos;
      let written: Promise<void> = Promise.resolve();
      if (r.dataLen > 0) written = chain.write(start, r.data.subarray(0, r.dataLen));
      let off = start;
      for (let i = 0; i < n; i++) {
        if (r.zero[i]) {
          descs.appendCopy(zeroDesc);
          stats.zeroPages++;
          continue;
        }
        const size = r.sizes[i]!;
        const f = r.flags[i]!;
        descs.append(off, size, f);
        off += size;
        if (f === 0) stats.rawPages++;
        else stats.byFlag[f] = (stats.byFlag[f] ?? 0) + 1;
      }
      dataPos = off;
      if (release) {
        written = written.then(() => release(r));
        written.catch(() => {}); // the same error surfaces from the chain
      }
      slot.written = written;
      afterBatch(n);
    };
    const emitOldest = async (): Promise<void> => {
      const p = pending.shift()!;
      const { pages, result } = await p.job;
      if (pages) p.slot.pages = pages;
      emitStored(p.slot, result, p.count, (r) => compressor!.release(r));
    };
    const submit = async (slot: Slot, n: number, runs: number[]): Promise<void> => {
      if (compressor) {
        // At most `capacity` batches outstanding: memory stays flat however big the dump.
        while (pending.length >= compressor.capacity) await emitOldest();
        const job = byRuns
          ? byRuns.compressRuns!(runs, n, opts.zeroPages).then((result) => ({ pages: null, result }))
          : compressor.compress(slot.pages, n, ps, opts.zeroPages);
        job.catch(() => {}); // awaited in order by emitOldest; an error after an earlier failure is moot
        pending.push({ slot, count: n, job });
      } else {
        // Uncompressed too: the non-zero pages are packed into one buffer, so a batch is one
        // write (writing each run of non-zero pages straight from the page buffer meant
        // thousands of small writes, each a thread-pool round trip: slower, not faster).
        // Raw output is packed in place (zero pages squeezed out): no copy, one write.
        const r = codec ? compressBatch(slot.pages, n, ps, codec, opts.zeroPages, slot.own!) : packRawBatch(slot.pages, n, ps, opts.zeroPages, slot.own!);
        emitStored(slot, r, n);
      }
    };

    let ring = 0;
    let slot = slots[0]!;
    let n = 0;
    let pfn = start;
    let lastYield = performance.now();
    let runs: number[] = [];
    let first = true;
    for (const w of source.windows()) {
      // The window's part of both bitmaps, then its pages. On the write chain: after the
      // previous window's data (a flattened stream takes one write at a time, in order).
      const ordered = (pos: number, data: Uint8Array) => chain.write(pos, data);
      await writeBitmapWindow(ordered, w.present, w.start, w.end, maxMapnr, layout.bitmap1Offset, layout.bitmapBytes);
      await writeBitmapWindow(ordered, w.dumpable, w.start, w.end, maxMapnr, layout.bitmap2Offset, layout.bitmapBytes);
      if (first && opts.zeroPages) writeZeroPage();
      first = false;
      const dumpable = w.dumpable;
      const wEnd = Math.min(end, w.end, w.start + dumpable.nbits);
      pfn = Math.max(pfn, w.start);
    while (pfn < wEnd) {
      const local = dumpable.nextSet(pfn - w.start, wEnd - w.start);
      if (local < 0) break;
      const runStart = w.start + local;
      const runEnd = w.start + dumpable.nextClear(local, wEnd - w.start);
      for (let p = runStart; p < runEnd; ) {
        if (n === 0 && slot.written) {
          // This slot's previous batch may still be on its way to the disk.
          await slot.written;
          slot.written = null;
        }
        const k = Math.min(runEnd - p, batchPages - n);
        if (byRuns) runs.push(p, k);
        else input.readPages(p, k, slot.pages, n * ps);
        n += k;
        p += k;
        if (n === batchPages) {
          await submit(slot, n, runs);
          runs = [];
          n = 0;
          ring = (ring + 1) % nSlots;
          slot = slots[ring]!;
          if (performance.now() - lastYield >= YIELD_MS) {
            await yieldToEventLoop();
            lastYield = performance.now();
          }
        }
      }
      pfn = runEnd;
    }
    }
    if (first && opts.zeroPages) writeZeroPage();
    if (n > 0) await submit(slot, n, runs);
    while (pending.length) await emitOldest();
    stats.dataBytes = dataPos - dataStart;
    descs.flush();
    await chain.drain();
    // A dump whose last descriptors are the zero page (or that has none) still needs its
    // descriptor area and zero page on disk: the chain wrote them.
    await sink.finish();
  } catch (e) {
    // Writes still queued finish (or fail) before the header is touched again.
    await chain.settle();
    if (e instanceof VmcoreError && e.code === 'E_NO_SPACE') await onNoSpace(e, input, layout, status, sink, tracked, stats, descQueue);
    throw e;
  }
  stats.bytesWritten = sink.bytesWritten;
  stats.fileSize = tracked.highWater;
  return stats;
}
