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

/** A result buffer for up to `maxPages` pages of `pageSize` bytes (reused across batches). */
export function allocCompressedBatch(maxPages: number, pageSize: number): CompressedBatch {
  return {
    count: 0,
    zero: new Uint8Array(maxPages),
    sizes: new Uint32Array(maxPages),
    flags: new Uint32Array(maxPages),
    data: new Uint8Array(maxPages * pageSize),
    dataLen: 0,
  };
}

/** True if `b[off, off+len)` is all zero. */
export function isZero(b: Uint8Array, off: number, len: number): boolean {
  // 4 bytes at a time when aligned (the common case: batch buffers are page aligned).
  let i = off;
  const end = off + len;
  if (((b.byteOffset + i) & 3) === 0 && (len & 3) === 0) {
    const w = new Uint32Array(b.buffer, b.byteOffset + i, len >>> 2);
    for (let k = 0; k < w.length; k++) if (w[k] !== 0) return false;
    return true;
  }
  for (; i < end; i++) if (b[i] !== 0) return false;
  return true;
}

/**
 * Compress `count` pages of `pageSize` bytes from `pages` (back to back). With `detectZero`,
 * all-zero pages are marked zero and store nothing (the writer points them at the shared zero
 * page). Without a codec, or when the codec does not make a page smaller, the page is stored raw.
 */
export function compressBatch(
  pages: Uint8Array,
  count: number,
  pageSize: number,
  codec: PageCodec | null,
  detectZero: boolean,
  into: CompressedBatch = allocCompressedBatch(count, pageSize),
): CompressedBatch {
  let dl = 0;
  const data = into.data;
  for (let i = 0; i < count; i++) {
    const off = i * pageSize;
    const page = pages.subarray(off, off + pageSize);
    if (detectZero && isZero(pages, off, pageSize)) {
      into.zero[i] = 1;
      into.sizes[i] = 0;
      into.flags[i] = 0;
      continue;
    }
    into.zero[i] = 0;
    const n = codec ? codec.compress(page, data.subarray(dl, dl + pageSize)) : 0;
    if (n > 0) {
      into.sizes[i] = n;
      into.flags[i] = codec!.flag;
      dl += n;
    } else {
      data.set(page, dl);
      into.sizes[i] = pageSize;
      into.flags[i] = 0;
      dl += pageSize;
    }
  }
  into.count = count;
  into.dataLen = dl;
  return into;
}
