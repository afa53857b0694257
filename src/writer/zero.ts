/**
 * Zero-page detection ahead of writing, for outputs that drop zero pages outright (ELF): read
 * the dumpable pages in runs and clear the bits of all-zero ones. kdump output instead shares
 * one stored zero page, detected while copying.
 */
import type { PageWriterInput } from '../formats/dump.js';

const RUN = 256;

export function isZeroPage(buf: Uint8Array, off: number, pageSize = 4096): boolean {
  const v = new BigUint64Array(buf.buffer, buf.byteOffset + off, pageSize / 8);
  for (let i = 0; i < v.length; i++) if (v[i] !== 0n) return false;
  return true;
}

/** Clear zero pages from `input.dumpable`; returns how many were cleared. */
export function excludeZeroPages(input: PageWriterInput, onProgress?: (phase: string, done: number, total: number) => void): number {
  const bm = input.dumpable;
  const total = bm.count();
  const ps = input.info.pageSize;
  const buf = new Uint8Array(RUN * ps);
  let zero = 0;
  let done = 0;
  let pfn = bm.nextSet(0);
  while (pfn >= 0 && pfn < input.maxMapnr) {
    let end = pfn + 1;
    while (end < input.maxMapnr && end - pfn < RUN && bm.get(end)) end++;
    input.readPages(pfn, end - pfn, buf, 0);
    for (let i = 0; i < end - pfn; i++) {
      if (isZeroPage(buf, i * ps, ps)) {
        bm.clear(pfn + i);
        zero++;
      }
    }
    done += end - pfn;
    onProgress?.('Excluding zero pages', done, total);
    pfn = bm.nextSet(end);
  }
  return zero;
}
