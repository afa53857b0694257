/**
 * Zero-page detection ahead of writing, for outputs that drop zero pages outright (ELF): read
 * the dumpable pages in runs and clear the bits of all-zero ones. kdump output instead shares
 * one stored zero page, detected while copying.
 */
import type { PageWriterInput } from '../formats/dump.js';
import { isZero } from '../compress/batch.js';
import { yieldToEventLoop } from '../formats/kdump/sink.js';

/** Pages read at a time: 128 KiB, which stays in the L2 cache (see IN_PROCESS_BATCH_PAGES). */
const RUN = 32;

/**
 * Clear zero pages from `input.dumpable`; resolves to how many were cleared. The output's
 * temporary file exists by now, so the loop gives a signal handler a turn every few tens of ms.
 */
export async function excludeZeroPages(input: PageWriterInput, onProgress?: (phase: string, done: number, total: number) => void): Promise<number> {
  const bm = input.dumpable;
  const total = bm.count();
  const ps = input.info.pageSize;
  const buf = new Uint8Array(RUN * ps);
  let zero = 0;
  let done = 0;
  let pfn = bm.nextSet(0);
  let lastYield = performance.now();
  while (pfn >= 0 && pfn < input.maxMapnr) {
    let end = pfn + 1;
    while (end < input.maxMapnr && end - pfn < RUN && bm.get(end)) end++;
    input.readPages(pfn, end - pfn, buf, 0);
    for (let i = 0; i < end - pfn; i++) {
      if (isZero(buf, i * ps, ps)) {
        bm.clear(pfn + i);
        zero++;
      }
    }
    done += end - pfn;
    onProgress?.('Excluding zero pages', done, total);
    pfn = bm.nextSet(end);
    if (performance.now() - lastYield >= 25) {
      await yieldToEventLoop();
      lastYield = performance.now();
    }
  }
  return zero;
}
