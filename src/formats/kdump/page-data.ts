/**
 * The descriptor area and data area of a kdump-compressed file (FORMATS.md §6.7–6.8): one
 * 24-byte page_desc per dumpable pfn (ascending), the stored bytes of each page after them.
 *
 * Pages are read in runs of adjacent dumpable pfns (one positional read per run and batch; an
 * excluded page is never read). In process, {@link IN_PROCESS_BATCH_PAGES} at a time into one
 * cache-resident buffer, compressed by {@link compressBatch} (or packed in place when raw) and
 * written from there. With a {@link BatchCompressor} (worker threads), {@link BATCH_PAGES} at a
 * time: as pfn runs that the workers read themselves when the compressor can, else as page
 * buffers; a few batches per worker are outstanding. Results are taken in batch order, so the
 * file is the same whatever the thread count. Each batch's stored bytes go out as one write, its
 * descriptors through a 24 KiB buffer, in order on a {@link WriteChain} (at once for a file; queued
 * for a flattened stream).
 */
import { VmcoreError } from '../../errors.js';
import { allocCompressedBatch, compressBatch, packRawBatch, type BatchCompressor, type CompressedBatch } from '../../compress/batch.js';
import type { PageCodec } from '../../compress/codec.js';
import { PAGE_DESC_SIZE, PageDesc } from './layout.js';
import { yieldToEventLoop, type DumpSink } from './sink.js';

/** Pages read and compressed per batch (one worker message: 1 MiB of 4 KiB pages). */
export const BATCH_PAGES = 256;
/**
 * Pages per batch when compressing in process (or not at all): 128 KiB of 4 KiB pages. Reading
 * into a buffer that stays in the L2 cache and writing it out again from there is 4–5x faster
 * here than with 1 MiB batches (measured: 120 MB read in 17 ms vs 83 ms).
 */
export const IN_PROCESS_BATCH_PAGES = 32;
// Descriptors are flushed every 1024 pages (after the data they point to), so that an ENOSPC
// loses at most that many pages' descriptors, as makedumpfile's 64 KiB write caches do.
const DESC_BUFFER = 24 * 1024;
/** The writers give the event loop a turn this often (ms), so a signal handler can run. */
const YIELD_MS = 25;
const DONE: Promise<void> = Promise.resolve();

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
  /**
   * `len` zero bytes at `pos`: left as a hole when the sink can (a file sink: a hole writes
   * nothing, so it needs no place in the queue), else written from `zeros()`.
   */
  zeros(pos: number, len: number, zeros: () => Uint8Array): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (this.sink.hole && this.sink.writeSync) {
      this.sink.hole(pos, len);
      return DONE;
    }
    return this.write(pos, zeros());
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
export class DescriptorQueue {
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
    // Chunks queued before the failure and refused with it come first (async writes, or a
    // chunk whose own write failed); the file offsets run on from one chunk to the next.
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
    if (kept.length === 1) return { pos: start, bytes: kept[0]! };
    const bytes = new Uint8Array(kept.reduce((n, k) => n + k.length, 0));
    kept.reduce((at, k) => (bytes.set(k, at), at + k.length), 0);
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

/** What {@link PageDataWriter} counts (a part of the writer's statistics). */
export interface PageDataStats {
  pages: number;
  zeroPages: number;
  rawPages: number;
  byFlag: Record<number, number>;
}

export interface PageDataOptions {
  /** Compression; null = every page stored raw (flags 0). */
  codec: PageCodec | null;
  /** All-zero pages share one stored zero page. */
  zeroPages: boolean;
  /** Worker threads compressing with `codec` (see KdumpWriteOptions.compressor). */
  compressor: BatchCompressor | null;
  /** Called after each batch with pages done and `total`. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** A page buffer and what is still using it. */
interface Slot {
  /** A batch of pages; replaced by the view a compressor hands back (the buffer travelled). */
  pages: Uint8Array;
  /** In-process result buffer (null with a compressor). */
  own: CompressedBatch | null;
  /** Settles when the last write reading this slot's bytes has finished. */
  written: Promise<void> | null;
}

interface PendingBatch {
  slot: Slot;
  count: number;
  job: Promise<{ pages: Uint8Array | null; result: CompressedBatch }>;
}

/**
 * The descriptors and stored pages of one kdump file, fed runs of dumpable pfns in ascending
 * order: reads them in batches, compresses them (here or in the compressor's workers, several
 * batches ahead), and queues each batch's data and then its descriptors on the write chain.
 */
export class PageDataWriter {
  /** File offset of the next stored byte. */
  private dataPos: number;
  private readonly zeroDesc = new Uint8Array(PAGE_DESC_SIZE);
  private readonly compressor: BatchCompressor | null;
  /** Workers that read the dump themselves are sent pfn runs, not pages. */
  private readonly byRuns: BatchCompressor | null;
  private readonly batchPages: number;
  private readonly slots: Slot[] = [];
  private readonly pending: PendingBatch[] = [];
  private ring = 0;
  private n = 0;
  private runs: number[] = [];
  private lastYield = performance.now();

  constructor(
    private readonly readPages: (pfn: number, count: number, buf: Uint8Array, off: number) => void,
    private readonly pageSize: number,
    private readonly chain: WriteChain,
    readonly descs: DescriptorQueue,
    private readonly dataStart: number,
    private readonly stats: PageDataStats,
    /** Pages this file stores, for progress. */
    private readonly total: number,
    private readonly opts: PageDataOptions,
    syncSink: boolean,
  ) {
    this.dataPos = dataStart;
    const codec = opts.codec;
    const compressor = codec && opts.compressor ? opts.compressor : null;
    if (compressor && compressor.codec !== codec!.name) {
      throw new VmcoreError('E_INTERNAL', `compressor codec ${compressor.codec} is not ${codec!.name}`);
    }
    this.compressor = compressor;
    this.byRuns = compressor?.compressRuns ? compressor : null;
    // Worker batches are large (one message each); in-process batches small (cache-resident).
    this.batchPages = compressor ? BATCH_PAGES : IN_PROCESS_BATCH_PAGES;
    const nSlots = compressor ? compressor.capacity + 2 : syncSink ? 1 : 3;
    for (let i = 0; i < nSlots; i++) {
      this.slots.push({
        pages: new Uint8Array(this.byRuns ? 0 : this.batchPages * pageSize),
        own: compressor ? null : allocCompressedBatch(this.batchPages, pageSize, codec !== null),
        written: null,
      });
    }
  }

  /** The shared zero page, first in the data area (dump level bit 1). */
  writeZeroPage(): void {
    const ps = this.pageSize;
    PageDesc.encode({ offset: BigInt(this.dataStart), size: ps, flags: 0, pageFlags: 0n }, this.zeroDesc, 0);
    void this.chain.write(this.dataStart, new Uint8Array(ps));
    this.dataPos += ps;
  }

  /** Bytes of the data area so far (zero page included). */
  get dataBytes(): number {
    return this.dataPos - this.dataStart;
  }

  /** Store the pages of [runStart, runEnd), all dumpable. */
  async addRun(runStart: number, runEnd: number): Promise<void> {
    const ps = this.pageSize;
    for (let p = runStart; p < runEnd; ) {
      const slot = this.slots[this.ring]!;
      if (this.n === 0 && slot.written) {
        // This slot's previous batch may still be on its way to the disk.
        await slot.written;
        slot.written = null;
      }
      const k = Math.min(runEnd - p, this.batchPages - this.n);
      if (this.byRuns) this.runs.push(p, k);
      else this.readPages(p, k, slot.pages, this.n * ps);
      this.n += k;
      p += k;
      if (this.n === this.batchPages) await this.nextBatch();
    }
  }

  /** Store what is still buffered, wait for the compressor, queue the last descriptors. */
  async finish(): Promise<void> {
    if (this.n > 0) await this.submit(this.slots[this.ring]!, this.n, this.runs);
    while (this.pending.length) await this.emitOldest();
    this.descs.flush();
  }

  private async nextBatch(): Promise<void> {
    await this.submit(this.slots[this.ring]!, this.n, this.runs);
    this.runs = [];
    this.n = 0;
    this.ring = (this.ring + 1) % this.slots.length;
    if (performance.now() - this.lastYield >= YIELD_MS) {
      await yieldToEventLoop();
      this.lastYield = performance.now();
    }
  }

  private async submit(slot: Slot, n: number, runs: number[]): Promise<void> {
    const { codec, zeroPages } = this.opts;
    const compressor = this.compressor;
    if (compressor) {
      // At most `capacity` batches outstanding: memory stays flat however big the dump.
      while (this.pending.length >= compressor.capacity) await this.emitOldest();
      const job = this.byRuns
        ? this.byRuns.compressRuns!(runs, n, zeroPages).then((result) => ({ pages: null, result }))
        : compressor.compress(slot.pages, n, this.pageSize, zeroPages);
      job.catch(() => {}); // awaited in order by emitOldest; an error after an earlier failure is moot
      this.pending.push({ slot, count: n, job });
      return;
    }
    // Uncompressed too: the non-zero pages are packed into one buffer, so a batch is one write
    // (writing each run of non-zero pages straight from the page buffer meant thousands of
    // small writes, each a thread-pool round trip: slower, not faster). Raw output is packed
    // in place (zero pages squeezed out): no copy, one write.
    const r = codec
      ? compressBatch(slot.pages, n, this.pageSize, codec, zeroPages, slot.own!)
      : packRawBatch(slot.pages, n, this.pageSize, zeroPages, slot.own!);
    this.emitStored(slot, r, n);
  }

  private async emitOldest(): Promise<void> {
    const p = this.pending.shift()!;
    const { pages, result } = await p.job;
    if (pages) p.slot.pages = pages;
    this.emitStored(p.slot, result, p.count, (r) => this.compressor!.release(r));
  }

  /** Stored (compressed or raw) pages of one batch: one data write, then the descriptors. */
  private emitStored(slot: Slot, r: CompressedBatch, n: number, release?: (r: CompressedBatch) => void): void {
    const stats = this.stats;
    const start = this.dataPos;
    let written: Promise<void> = DONE;
    if (r.dataLen > 0) written = this.chain.write(start, r.data.subarray(0, r.dataLen));
    let off = start;
    for (let i = 0; i < n; i++) {
      if (r.zero[i]) {
        this.descs.appendCopy(this.zeroDesc);
        stats.zeroPages++;
        continue;
      }
      const size = r.sizes[i]!;
      const f = r.flags[i]!;
      this.descs.append(off, size, f);
      off += size;
      if (f === 0) stats.rawPages++;
      else stats.byFlag[f] = (stats.byFlag[f] ?? 0) + 1;
    }
    this.dataPos = off;
    if (release) {
      written = written.then(() => release(r));
      written.catch(() => {}); // the same error surfaces from the chain
    }
    slot.written = written;
    stats.pages += n;
    this.opts.onProgress?.(stats.pages, this.total);
    if (this.opts.signal?.aborted) throw this.opts.signal.reason ?? new VmcoreError('E_INTERNAL', 'aborted');
  }
}
