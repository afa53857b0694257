/**
 * Compress a batch of pages in one synchronous call. Input and output are plain typed arrays so
 * the same function can run in a worker thread later (transfer `pages` in, the result out).
 */
import type { PageCodec } from './codec.js';

/** The stored form of a batch of pages, in page order. */
export interface CompressedBatch {
  count: number;
  /** Per page: 1 if the page is all zero (and zero detection was on); then it has no data. */
  zero: Uint8Array;
  /** Per page: stored length in `data` (0 for a zero page). */
  sizes: Uint32Array;
  /** Per page: page_desc flags, the codec's flag or 0 for a page stored raw. */
  flags: Uint32Array;
  /** Stored bytes of the non-zero pages, back to back in page order. */
  data: Uint8Array;
  /** Bytes used in `data`. */
  dataLen: number;
}

/** Bytes of the single ArrayBuffer that backs a {@link CompressedBatch} of `maxPages` pages. */
export function compressedBatchBytes(maxPages: number, pageSize: number): number {
  // zero flags, padded to 4 bytes so the Uint32Arrays after them are aligned.
  return ((maxPages + 3) & ~3) + 8 * maxPages + maxPages * pageSize;
}

/**
 * A {@link CompressedBatch} laid over one ArrayBuffer (zero | sizes | flags | data), so a worker
 * can fill it and transfer it back whole. `buffer` must hold {@link compressedBatchBytes}.
 */
export function compressedBatchOver(buffer: ArrayBuffer, maxPages: number, pageSize: number): CompressedBatch {
  const z = (maxPages + 3) & ~3;
  return {
    count: 0,
    zero: new Uint8Array(buffer, 0, maxPages),
    sizes: new Uint32Array(buffer, z, maxPages),
    flags: new Uint32Array(buffer, z + 4 * maxPages, maxPages),
    data: new Uint8Array(buffer, z + 8 * maxPages, maxPages * pageSize),
    dataLen: 0,
  };
}

/**
 * A result buffer for up to `maxPages` pages of `pageSize` bytes (reused across batches).
 * Without `withData` the data area is left out (for {@link packRawBatch}, which stores in place).
 */
export function allocCompressedBatch(maxPages: number, pageSize: number, withData = true): CompressedBatch {
  const dataPageSize = withData ? pageSize : 0;
  return compressedBatchOver(new ArrayBuffer(compressedBatchBytes(maxPages, dataPageSize)), maxPages, dataPageSize);
}

/**
 * The stored form of `count` uncompressed pages without copying them: with `detectZero`, all-zero
 * pages are marked and the non-zero ones moved down over them inside `pages` (usually nothing
 * moves); the result's `data` is `pages` itself. `into` supplies the per-page arrays.
 */
export function packRawBatch(pages: Uint8Array, count: number, pageSize: number, detectZero: boolean, into: CompressedBatch): CompressedBatch {
  const aligned = ((pages.byteOffset & 3) | (pageSize & 3)) === 0;
  const words = aligned ? new Uint32Array(pages.buffer, pages.byteOffset, (count * pageSize) >>> 2) : null;
  const wpp = pageSize >>> 2;
  let dl = 0;
  for (let i = 0; i < count; i++) {
    const off = i * pageSize;
    if (detectZero && (words ? isZeroWords(words, i * wpp, wpp) : isZero(pages, off, pageSize))) {
      into.zero[i] = 1;
      into.sizes[i] = 0;
      into.flags[i] = 0;
      continue;
    }
    into.zero[i] = 0;
    into.sizes[i] = pageSize;
    into.flags[i] = 0;
    if (dl !== off) pages.copyWithin(dl, off, off + pageSize);
    dl += pageSize;
  }
  return { count, zero: into.zero, sizes: into.sizes, flags: into.flags, data: pages, dataLen: dl };
}

/** True if `b[off, off+len)` is all zero. */
export function isZero(b: Uint8Array, off: number, len: number): boolean {
  // 4 bytes at a time when aligned (the common case: batch buffers are page aligned).
  if (((b.byteOffset + off) & 3) === 0 && (len & 3) === 0) {
    return isZeroWords(new Uint32Array(b.buffer, b.byteOffset + off, len >>> 2), 0, len >>> 2);
  }
  for (let i = off, end = off + len; i < end; i++) if (b[i] !== 0) return false;
  return true;
}

/** True if words `w[from, from+n)` are all zero (OR-folded 8 at a time: few branches). */
export function isZeroWords(w: Uint32Array, from: number, n: number): boolean {
  // Most kept pages are not zero and fail on the first word; zero pages pay a full scan.
  if (n === 0) return true;
  if (w[from] !== 0) return false;
  let i = from;
  const end = from + n;
  for (; i + 8 <= end; i += 8) {
    if ((w[i]! | w[i + 1]! | w[i + 2]! | w[i + 3]! | w[i + 4]! | w[i + 5]! | w[i + 6]! | w[i + 7]!) !== 0) return false;
  }
  for (; i < end; i++) if (w[i] !== 0) return false;
  return true;
}

/**
 * Compress `count` pages of `pageSize` bytes from `pages` (back to back). With `detectZero`,
 * all-zero pages are marked zero and store nothing (the writer points them at the shared zero
 * page). Without a codec, or when the codec does not make a page smaller, the page is stored raw.
 * With `append`, the pages are added after those `into` already holds (a batch compressed in
 * pieces, as a worker reads it). Synchronous and allocation-free apart from what the codec
 * itself allocates.
 */
export function compressBatch(
  pages: Uint8Array,
  count: number,
  pageSize: number,
  codec: PageCodec | null,
  detectZero: boolean,
  into: CompressedBatch = allocCompressedBatch(count, pageSize),
  append = false,
): CompressedBatch {
  const first = append ? into.count : 0;
  let dl = append ? into.dataLen : 0;
  const data = into.data;
  const aligned = ((pages.byteOffset & 3) | (pageSize & 3)) === 0;
  const words = aligned ? new Uint32Array(pages.buffer, pages.byteOffset, (count * pageSize) >>> 2) : null;
  const wpp = pageSize >>> 2;
  for (let j = 0; j < count; j++) {
    const i = first + j;
    const off = j * pageSize;
    if (detectZero && (words ? isZeroWords(words, j * wpp, wpp) : isZero(pages, off, pageSize))) {
      into.zero[i] = 1;
      into.sizes[i] = 0;
      into.flags[i] = 0;
      continue;
    }
    into.zero[i] = 0;
    const n = codec ? codec.compress(pages.subarray(off, off + pageSize), data.subarray(dl, dl + pageSize)) : 0;
    if (n > 0) {
      into.sizes[i] = n;
      into.flags[i] = codec!.flag;
      dl += n;
    } else {
      data.set(pages.subarray(off, off + pageSize), dl);
      into.sizes[i] = pageSize;
      into.flags[i] = 0;
      dl += pageSize;
    }
  }
  into.count = first + count;
  into.dataLen = dl;
  return into;
}

/**
 * Compresses batches somewhere else (worker threads), results in submission order per call.
 * The kdump writer keeps up to `capacity` batches outstanding and reads ahead meanwhile.
 */
export interface BatchCompressor {
  /** Codec the batches are compressed with. */
  readonly codec: PageCodec['name'];
  /** Batches that may be outstanding at once (a few per worker). */
  readonly capacity: number;
  /**
   * Compress `count` pages from `pages` (which is transferred: the caller must not touch it
   * until the promise resolves). Resolves with the same page bytes (a new view: the buffer came
   * back) and the stored form, laid over a buffer owned by the compressor until {@link release}.
   */
  compress(pages: Uint8Array, count: number, pageSize: number, detectZero: boolean): Promise<{ pages: Uint8Array; result: CompressedBatch }>;
  /** Give back a result's buffer once its bytes are no longer needed. */
  release(result: CompressedBatch): void;
  /**
   * Present when the compressor reads the dump itself: compress the pages of `runs` (pfn, count
   * pairs, ascending, `count` pages in all), read by the worker from its own reader of the same
   * input. The page data then never crosses threads, and is compressed while still in the
   * reading core's cache.
   */
  compressRuns?(runs: number[], count: number, detectZero: boolean): Promise<CompressedBatch>;
}
