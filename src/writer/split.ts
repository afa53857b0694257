/**
 * `--split`: one dump as several kdump-compressed files by pfn range, each a complete dump of
 * its own (full bitmaps, its own pages only, start/end pfn in the sub-header), and
 * `reassemble`: join such parts back into one file.
 *
 * Ranges are cut where the running count of dumpable pages crosses k·total/N, so parts hold
 * about the same number of pages (makedumpfile rounds cuts to 1 GiB "splitblocks", which gives
 * uneven parts on small dumps; readers need only that the ranges tile [0, max_mapnr)).
 */
import { VmcoreError, hex } from '../errors.js';
import type { Bitmap } from '../io/bitmap.js';
import type { PageWriterInput } from '../formats/dump.js';
import { KdumpReader } from '../formats/kdump/reader.js';
import { writeKdump, type KdumpWriteStats } from '../formats/kdump/writer.js';
import { loadCodec } from '../compress/index.js';
import type { PageCodec } from '../compress/codec.js';
import { AtomicOutput, checkOutputPath } from './atomic.js';

/** Pfn ranges [start, end) tiling [0, maxMapnr), each with ~total/parts dumpable pages. */
export function splitRanges(dumpable: Bitmap, maxMapnr: number, parts: number): { startPfn: number; endPfn: number }[] {
  const total = dumpable.count(0, maxMapnr);
  const cuts = [0];
  let seen = 0;
  let k = 1;
  let pfn = dumpable.nextSet(0);
  while (k < parts && pfn >= 0 && pfn < maxMapnr) {
    seen++;
    if (seen >= Math.ceil((k * total) / parts)) {
      cuts.push(pfn + 1);
      k++;
    }
    pfn = dumpable.nextSet(pfn + 1);
  }
  while (cuts.length < parts) cuts.push(maxMapnr);
  cuts.push(maxMapnr);
  return cuts.slice(0, parts).map((s, i) => ({ startPfn: s, endPfn: cuts[i + 1]! }));
}

/** Write every part; all parts land (renamed) or none does. */
export async function writeSplitParts(
  input: PageWriterInput,
  outputs: string[],
  opts: { force: boolean; inputPath?: string; codec: PageCodec | null; zeroPages: boolean },
): Promise<KdumpWriteStats[]> {
  const ranges = splitRanges(input.dumpable, input.maxMapnr, outputs.length);
  const outs = outputs.map((o) => AtomicOutput.open(o, { force: opts.force, inputPath: opts.inputPath }));
  try {
    const stats: KdumpWriteStats[] = [];
    for (let i = 0; i < outs.length; i++) {
      const sink = outs[i]!.sink();
      stats.push(await writeKdump(input, sink, { codec: opts.codec, zeroPages: opts.zeroPages, split: ranges[i] }));
      await sink.finish();
    }
    for (const o of outs) o.commit();
    return stats;
  } catch (e) {
    for (const o of outs) o.abort();
    throw e;
  }
}

/**
 * Join split parts into one kdump-compressed file. Pages are decoded from their part and
 * stored again with the parts' codec, so the result equals the unsplit dump page for page
 * (and byte for byte when the parts came from vmcore-filter).
 */
export async function reassembleSplit(parts: string[], output: string, opts: { force: boolean }): Promise<KdumpWriteStats> {
  checkOutputPath(output, { force: opts.force });
  const readers = parts.map((p) => KdumpReader.open(p));
  try {
    for (const r of readers) {
      if (!r.kdump.split) throw new VmcoreError('E_FORMAT', `${r.path}: not a --split part (sub-header split = 0)`, { path: r.path });
    }
    readers.sort((a, b) => a.kdump.split!.startPfn - b.kdump.split!.startPfn);
    const first = readers[0]!;
    let expect = 0;
    for (const r of readers) {
      const s = r.kdump.split!;
      if (r.maxMapnr !== first.maxMapnr) {
        throw new VmcoreError('E_FORMAT', `${r.path}: max_mapnr ${hex(r.maxMapnr)} differs from ${first.path}'s ${hex(first.maxMapnr)}`, { path: r.path });
      }
      if (s.startPfn !== expect) {
        throw new VmcoreError('E_FORMAT', `no part covers pfn ${hex(expect)} (next part ${r.path} starts at ${hex(s.startPfn)})`, { path: r.path });
      }
      expect = s.endPfn;
    }
    if (expect !== first.maxMapnr) {
      throw new VmcoreError('E_FORMAT', `no part covers pfns ${hex(expect)}..${hex(first.maxMapnr)}`, { path: readers.at(-1)!.path });
    }
    const partOf = (pfn: number) => readers.find((r) => pfn >= r.kdump.split!.startPfn && pfn < r.kdump.split!.endPfn)!;
    const input: PageWriterInput = {
      info: first.info,
      maxMapnr: first.maxMapnr,
      present: first.present,
      dumpable: first.bitmap2,
      dumpLevel: first.kdump.dumpLevel,
      readPages: (pfn, count, buf, off = 0) => {
        // A run never spans two parts' data: split it at part boundaries.
        let done = 0;
        while (done < count) {
          const r = partOf(pfn + done);
          const n = Math.min(count - done, r.kdump.split!.endPfn - (pfn + done));
          r.readPages(pfn + done, n, buf, off + done * first.info.pageSize);
          done += n;
        }
      },
    };
    const codec = first.kdump.codec ? loadCodec(first.kdump.codec) : null;
    const out = AtomicOutput.open(output, { force: opts.force });
    try {
      const sink = out.sink();
      const stats = await writeKdump(input, sink, { codec, zeroPages: (first.kdump.dumpLevel & 1) !== 0 });
      await sink.finish();
      out.commit();
      return stats;
    } catch (e) {
      out.abort();
      throw e;
    }
  } finally {
    for (const r of readers) r.close();
  }
}
