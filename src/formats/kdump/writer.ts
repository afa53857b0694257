/**
 * kdump-compressed writer, header_version 6 (FORMATS.md §6.1–6.8, §6.10 via a flattened sink).
 *
 * Layout: block 0 disk_dump_header; block 1 kdump_sub_header + the input notes copied verbatim at
 * block_size + 104; the 1st and 2nd bitmaps, each padded to whole blocks; one 24-byte page_desc per
 * 2nd-bitmap bit (ascending pfn); the data area: the shared zero page first (dump level bit 1),
 * then each non-zero page's stored bytes in pfn order, compressed or raw (flags 0).
 *
 * Pages are read in runs of adjacent dumpable pfns, `BATCH_PAGES` at a time, compressed by
 * {@link compressBatch} (pure, worker-ready), and appended through two buffered cursors, one for
 * descriptors and one for data. Memory: the caller's bitmaps plus a few MiB of buffers.
 */
import { VmcoreError, hex } from '../../errors.js';
import type { Bitmap } from '../../io/bitmap.js';
import { allocCompressedBatch, compressBatch } from '../../compress/batch.js';
import type { PageCodec } from '../../compress/codec.js';
import type { PageWriterInput } from '../dump.js';
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
import { SequentialWriter, type DumpSink } from './sink.js';

/** Pages read and compressed per batch. */
export const BATCH_PAGES = 256;
// Descriptors are flushed every 1024 pages (after the data they point to), so that an ENOSPC
// loses at most that many pages' descriptors, as makedumpfile's 64 KiB write caches do.
const DATA_BUFFER = 1 << 20;
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

/** Copy `bm` (nbits ≥ maxMapnr) into a block-padded buffer, clearing bits ≥ maxMapnr. */
function bitmapBytes(bm: Bitmap, maxMapnr: number, from: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  const have = Math.ceil(maxMapnr / 8);
  const end = Math.min(have, from + len);
  if (end > from) out.set(bm.bytes.subarray(from, Math.min(end, bm.bytes.length)), 0);
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
  const dumpable = input.dumpable;
  const numDumpable = dumpable.count(0, Math.min(maxMapnr, dumpable.nbits));
  const total = dumpable.count(start, Math.min(end, dumpable.nbits));
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
  let highWater = 0;
  const put = async (pos: number, data: Uint8Array) => {
    await sink.write(pos, data);
    highWater = Math.max(highWater, pos + data.length);
  };
  const tracked: DumpSink = {
    get path() {
      return sink.path;
    },
    flattened: sink.flattened,
    get bytesWritten() {
      return sink.bytesWritten;
    },
    write: put,
    finish: () => sink.finish(),
  };

  try {
    // Block 0: header. Block 1..: sub header and the notes copy.
    await put(0, encodeDiskDumpHeader(input, layout, status));
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
        maxMapnr64: BigInt(maxMapnr),
      },
      sub,
      0,
    );
    sub.set(notes, KdumpSubHeader.size);
    await put(ps, sub);

    // Bitmaps, whole blocks each, in chunks.
    for (const [bm, base] of [
      [input.present, layout.bitmap1Offset],
      [dumpable, layout.bitmap2Offset],
    ] as const) {
      for (let off = 0; off < layout.bitmapBytes; off += BITMAP_CHUNK) {
        const len = Math.min(BITMAP_CHUNK, layout.bitmapBytes - off);
        await put(base + off, bitmapBytes(bm, maxMapnr, off, len));
      }
    }

    // Descriptors and data.
    const desc = new SequentialWriter(tracked, layout.pdOffset, DESC_BUFFER);
    const data = new SequentialWriter(tracked, dataStart, DATA_BUFFER);
    const zeroDesc = new Uint8Array(PAGE_DESC_SIZE);
    if (opts.zeroPages) {
      PageDesc.encode({ offset: BigInt(dataStart), size: ps, flags: 0, pageFlags: 0n }, zeroDesc, 0);
      data.append(zeroBlock(ps));
    }
    const pageBuf = new Uint8Array(BATCH_PAGES * ps);
    const result = allocCompressedBatch(BATCH_PAGES, ps);
    const descView = new DataView(new ArrayBuffer(PAGE_DESC_SIZE));
    const descBytes = new Uint8Array(descView.buffer);

    const flushBatch = async (n: number): Promise<void> => {
      compressBatch(pageBuf, n, ps, codec, opts.zeroPages, result);
      let dOff = 0;
      for (let i = 0; i < n; i++) {
        if (desc.space < PAGE_DESC_SIZE) {
          // Descriptors on disk never point at data that is not yet on disk.
          await data.flush();
          await desc.flush();
        }
        if (result.zero[i]) {
          desc.append(zeroDesc);
          stats.zeroPages++;
          continue;
        }
        const size = result.sizes[i]!;
        if (data.space < size) await data.flush();
        descView.setBigInt64(0, BigInt(data.pos), true);
        descView.setUint32(8, size, true);
        descView.setUint32(12, result.flags[i]!, true);
        descView.setBigUint64(16, 0n, true);
        desc.append(descBytes);
        data.append(result.data.subarray(dOff, dOff + size));
        dOff += size;
        const f = result.flags[i]!;
        if (f === 0) stats.rawPages++;
        else stats.byFlag[f] = (stats.byFlag[f] ?? 0) + 1;
      }
      stats.pages += n;
      opts.onProgress?.(stats.pages, total);
      if (opts.signal?.aborted) throw opts.signal.reason ?? new VmcoreError('E_INTERNAL', 'aborted');
    };

    let n = 0;
    let pfn = start;
    const limit = Math.min(end, dumpable.nbits);
    while (pfn < limit) {
      const runStart = dumpable.nextSet(pfn);
      if (runStart < 0 || runStart >= limit) break;
      const runEnd = Math.min(dumpable.nextClear(runStart), limit);
      for (let p = runStart; p < runEnd; ) {
        const k = Math.min(runEnd - p, BATCH_PAGES - n);
        input.readPages(p, k, pageBuf, n * ps);
        n += k;
        p += k;
        if (n === BATCH_PAGES) {
          await flushBatch(n);
          n = 0;
        }
      }
      pfn = runEnd;
    }
    if (n > 0) await flushBatch(n);
    stats.dataBytes = data.pos - dataStart;
    await data.flush();
    await desc.flush();
    // A dump whose last descriptors are the zero page (or that has none) still needs its
    // descriptor area and zero page on disk: the data flush above wrote them.
    await sink.finish();
  } catch (e) {
    if (e instanceof VmcoreError && e.code === 'E_NO_SPACE') {
      stats.incomplete = true;
      if (!sink.flattened) {
        try {
          await sink.write(0, encodeDiskDumpHeader(input, layout, status | DUMP_DH_COMPRESSED_INCOMPLETE));
        } catch {
          /* best effort: the header block already exists, rewriting it needs no new space */
        }
      }
      stats.bytesWritten = sink.bytesWritten;
      stats.fileSize = highWater;
      e.data.incomplete = true;
      e.data.stats = stats;
      try {
        await sink.finish();
      } catch {
        /* keep the first error */
      }
    }
    throw e;
  }
  stats.bytesWritten = sink.bytesWritten;
  stats.fileSize = highWater;
  return stats;
}
