/**
 * Compress the pages of pfn runs read from a dump, a few at a time: what a compression worker
 * does with a `runs` request, and what the main thread does with its own share of the batches
 * ({@link CompressPool} with `local`). One function for both, so the stored bytes cannot depend
 * on which thread compressed a batch.
 */
import { VmcoreError } from '../../errors.js';
import { compressBatch, type CompressedBatch } from '../../compress/batch.js';
import type { PageCodec } from '../../compress/codec.js';

/** Pages read (and then compressed) at a time: 128 KiB of 4 KiB pages, which stay in the cache. */
export const READ_PAGES = 32;

/** Reads `count` pages from `pfn` into `buf` at byte `off` (a DumpReader's readPages). */
export type ReadPages = (pfn: number, count: number, buf: Uint8Array, off: number) => void;

/**
 * Fill `result` (emptied first) with the stored form of the pages of `runs` (pfn, count pairs,
 * `count` pages in all), read through `chunk` ({@link READ_PAGES} pages).
 */
export function compressRunsInto(
  readPages: ReadPages,
  runs: readonly number[],
  count: number,
  pageSize: number,
  codec: PageCodec,
  detectZero: boolean,
  result: CompressedBatch,
  chunk: Uint8Array,
): void {
  result.count = 0;
  result.dataLen = 0;
  let n = 0;
  for (let r = 0; r < runs.length; r += 2) {
    const end = runs[r]! + runs[r + 1]!;
    for (let pfn = runs[r]!; pfn < end; ) {
      const k = Math.min(end - pfn, READ_PAGES - n);
      readPages(pfn, k, chunk, n * pageSize);
      n += k;
      pfn += k;
      if (n === READ_PAGES) {
        compressBatch(chunk, n, pageSize, codec, detectZero, result, true);
        n = 0;
      }
    }
  }
  if (n > 0) compressBatch(chunk, n, pageSize, codec, detectZero, result, true);
  if (result.count !== count) throw new VmcoreError('E_INTERNAL', `read ${result.count} pages for a batch of ${count}`);
}
