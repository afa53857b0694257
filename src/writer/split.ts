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
import type { PfnSet } from '../io/pfn-set.js';
import type { PageWriterInput } from '../formats/dump.js';
import { KdumpReader } from '../formats/kdump/reader.js';
import { KdumpFileWriter, writeKdump, type KdumpWriteStats } from '../formats/kdump/writer.js';
import type { DumpSink } from '../formats/kdump/sink.js';
import { loadCodec } from '../compress/index.js';
import type { PageCodec } from '../compress/codec.js';
import { AtomicOutput, checkOutputPath } from './atomic.js';

/**
 * Where the parts of `--split` are cut, found window by window: part k (1-based) ends just after
 * the pfn at which the running count of dumpable pfns reaches ceil(k·total/parts), one cut per
 * pfn at most; parts past the last cut are empty ranges at max_mapnr.
 */
export class SplitCuts {
  /** Cut pfns found so far, after the leading 0: part i is [cuts[i], cuts[i + 1]). */
  readonly cuts: number[] = [0];
  private seen = 0;
  constructor(
    private readonly total: number,
    private readonly parts: number,
  ) {}

  /** Count the dumpable pfns of a window (bit i of `dumpable` = pfn `start + i`, below `end`). */
  feed(dumpable: PfnSet, start: number, end: number): void {
    const n = Math.min(end - start, dumpable.nbits);
    // Most windows hold no cut: counted in blocks, bit by bit only in a block that holds one.
    for (let b = 0; b < n && this.cuts.length < this.parts; b += CUT_BLOCK) {
      const e = Math.min(n, b + CUT_BLOCK);
      const c = dumpable.count(b, e);
      if (this.seen + c < this.threshold()) {
        this.seen += c;
        continue;
      }
      for (let p = dumpable.nextSet(b, e); p >= 0 && this.cuts.length < this.parts; p = dumpable.nextSet(p + 1, e)) {
        this.seen++;
        if (this.seen >= this.threshold()) this.cuts.push(start + p + 1);
      }
    }
  }

  /** Part i's range as far as the windows fed so far tell (`Infinity`: not yet known). */
  partRange(i: number, maxMapnr: number): { start: number; end: number } {
    const last = i + 1 === this.parts;
    return { start: this.cuts[i] ?? Infinity, end: last ? maxMapnr : (this.cuts[i + 1] ?? Infinity) };
  }

  /** Every part's range, once every window has been fed. */
  ranges(maxMapnr: number): { startPfn: number; endPfn: number }[] {
    const cuts = [...this.cuts];
    while (cuts.length < this.parts) cuts.push(maxMapnr);
    cuts.push(maxMapnr);
    return cuts.slice(0, this.parts).map((s, i) => ({ startPfn: s, endPfn: cuts[i + 1]! }));
  }

  /** The count part k's cut waits for. */
  private threshold(): number {
    return Math.ceil((this.cuts.length * this.total) / this.parts);
  }
}

/** Pfns counted at once while looking for a cut. */
const CUT_BLOCK = 1 << 16;

/** Pfn ranges [start, end) tiling [0, maxMapnr), each with ~total/parts dumpable pages. */
export function splitRanges(dumpable: Bitmap, maxMapnr: number, parts: number): { startPfn: number; endPfn: number }[] {
  const cuts = new SplitCuts(dumpable.count(0, maxMapnr), parts);
  cuts.feed(dumpable, 0, maxMapnr);
  return cuts.ranges(maxMapnr);
}

/**
 * The parts of `--split` written side by side from one pass over `input`'s windows: each gets
 * every window's bitmaps (a part has the whole dump's) and the pages of its range, whose cuts
 * are found as the windows go by ({@link SplitCuts}). A part's sub-header, which records its
 * range, is written once the range is known.
 */
export async function writeSplitWindows(
  input: PageWriterInput,
  sinks: DumpSink[],
  opts: { codec: PageCodec | null; zeroPages: boolean },
): Promise<KdumpWriteStats[]> {
  const source = input.windows;
  if (!source) throw new VmcoreError('E_INTERNAL', '--split parts are written from windows');
  const max = input.maxMapnr;
  const cuts = new SplitCuts(source.numDumpable, sinks.length);
  const files = sinks.map((s, i) => new KdumpFileWriter(input, s, opts, source.numDumpable, source.numDumpable, cuts.partRange(i, max)));
  try {
    for (const f of files) await f.begin();
    for (const w of source.windows()) {
      if (!w.empty) cuts.feed(w.dumpable, w.start, w.end);
      for (const [i, f] of files.entries()) {
        f.setPart(cuts.partRange(i, max));
        await f.window(w);
      }
    }
    const ranges = cuts.ranges(max);
    const stats: KdumpWriteStats[] = [];
    for (const [i, f] of files.entries()) {
      f.setPart({ start: ranges[i]!.startPfn, end: ranges[i]!.endPfn });
      stats.push(await f.end());
    }
    return stats;
  } catch (e) {
    // The part whose output failed gets the full-disk treatment; the others just settle.
    for (const f of files) await (f.failed ? f.fail(e) : f.fail(null));
    throw e;
  }
}

/** Write every part from `input`'s windows; all parts land (renamed) or none does. */
export async function writeSplitParts(
  input: PageWriterInput,
  outputs: string[],
  opts: { force: boolean; inputPath?: string; codec: PageCodec | null; zeroPages: boolean },
): Promise<KdumpWriteStats[]> {
  const outs = outputs.map((o) => AtomicOutput.open(o, { force: opts.force, inputPath: opts.inputPath }));
  try {
    const sinks = outs.map((o) => o.sink());
    const stats = await writeSplitWindows(input, sinks, { codec: opts.codec, zeroPages: opts.zeroPages });
    for (const s of sinks) await s.finish();
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
