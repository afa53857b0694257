/**
 * The main job: read a dump, classify every page, decide what the dump level keeps, and write
 * the result atomically (temporary file + rename), retrying at the next `-d` level on a full
 * disk. Returns a {@link FilterReport}; never touches process, colours or exit codes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { VmcoreError } from '../errors.js';
import { openDump } from '../formats/probe.js';
import { presentPfns, type DumpReader, type PageWriterInput, type PfnWindow, type PfnWindows } from '../formats/dump.js';
import { DEFAULT_CYCLIC_BUFFER_KIB, buildDumpableBitmap, excludedClasses, prepareClassifier, walkClassifier, windowPfns, type Classification, type Classifier, type ClassSummary } from '../filter/index.js';
import { PfnRanges, windowBits } from '../io/pfn-set.js';
import { Bitmap } from '../io/bitmap.js';
import { loadCodec } from '../compress/index.js';
import type { CodecName } from '../compress/codec.js';
import { BATCH_PAGES, writeKdump } from '../formats/kdump/writer.js';
import type { DumpSink } from '../formats/kdump/sink.js';
import { FlattenedSink } from '../formats/flattened/sink.js';
import { AtomicOutput, checkOutputPath } from './atomic.js';
import { emptyClassCounts, PAGE_CLASSES, type FilterReport, type PageClass } from './report.js';
import { excludeZeroPages } from './zero.js';
import { writeElfOutput } from './elf-output.js';
import { writeSplitParts, writeSplitWindows } from './split.js';
import { DiscardSink, SizeLimitSink, discardStream } from '../formats/kdump/sink-limits.js';
import { yieldToEventLoop } from '../formats/kdump/sink.js';
import { CompressPool } from './workers/pool.js';
import { describeReportedBit } from '../mm/pageflags.js';

export interface FilterOptions {
  /** First level, then retry levels used after a full disk (makedumpfile's `-d 11,31`). */
  dumpLevels: number[];
  format: 'kdump' | 'elf';
  codec?: CodecName;
  force: boolean;
  /** Flattened stream to stdout (`-F`); the output path must be "-". */
  flattened?: boolean;
  /**
   * page->flags bit of PG_reported (hinted free pages), overriding the bit decided from the
   * dump's NUMBER(PG_*) layout; null: PG_reported is not tested (`--reported-bit none`).
   */
  reportedBit?: number | null;
  /** ELF output: excluded runs shorter than this are written as zero-filled pages (never read). */
  elfMinHolePages?: number;
  onProgress?: (phase: string, done: number, total: number) => void;
  /** `--split`: write these kdump-compressed parts instead of `output` (at least two). */
  splitOutputs?: string[];
  /** Where the flattened stream goes (default process.stdout). */
  stdout?: NodeJS.WritableStream;
  /**
   * On a full disk after the last `-d` level, keep what was written under the output name (a
   * valid dump whose header has the incomplete flag) instead of removing it. Still an E_NO_SPACE error.
   */
  keepIncomplete?: boolean;
  /** VMCOREINFO text supplying or replacing the dump's own (`--vmcoreinfo FILE`). */
  vmcoreinfoOverride?: string;
  /**
   * Worker threads compressing pages (makedumpfile's `--num-threads`); default: the machine's
   * cores (`os.availableParallelism()`). Used for kdump output with a codec; 1, or no codec,
   * compresses in process. The output is byte-identical whatever the number.
   */
  numThreads?: number;
  /**
   * makedumpfile's `--dry-run`: do everything but write — no file is created (existing outputs
   * are still refused without `force`), a flattened stream goes nowhere; the report, "Write
   * bytes" included, is the one the real run gives.
   */
  dryRun?: boolean;
  /**
   * makedumpfile's `-L SIZE`: no output byte at or past this offset (per file). Reaching it is a
   * full disk (E_NO_SPACE): retry at the next `-d` level, then `keepIncomplete` applies.
   */
  sizeLimit?: number;
  /**
   * makedumpfile's `--cyclic-buffer` (KiB): pfns are classified and written in windows of
   * KiB × 8192 pfns (one bitmap byte per 8 pfns), so memory is bounded by the window, not by
   * max_mapnr. Default {@link DEFAULT_CYCLIC_BUFFER_KIB}. The output is the same whatever the size.
   */
  cyclicBufferKiB?: number;
}

/** How long ELF output's gathering of runs may go without letting a signal handler run. */
const ELF_WINDOWS_YIELD_MS = 25;

// The window size is the classifier's (triage commands walk the same windows).
export { DEFAULT_CYCLIC_BUFFER_KIB, windowPfns };

/** Filter `input` into `output`. */
export async function filterDump(input: string, output: string, opts: FilterOptions): Promise<FilterReport> {
  const t0 = performance.now();
  if (!opts.dumpLevels.length) throw new VmcoreError('E_USAGE', 'no dump level given', { option: '-d' });
  const codec = opts.codec ? loadCodec(opts.codec) : undefined;
  if (opts.format === 'elf' && codec) throw new VmcoreError('E_USAGE', 'ELF output cannot be compressed', { option: '-E' });
  if (opts.splitOutputs && (opts.splitOutputs.length < 2 || opts.format !== 'kdump' || opts.flattened)) {
    throw new VmcoreError('E_USAGE', '--split needs two or more outputs and kdump-compressed, non-flattened output', { option: '--split' });
  }
  if (opts.sizeLimit !== undefined && opts.splitOutputs) throw new VmcoreError('E_USAGE', 'a size limit applies to one output, not to --split parts', { option: '-L' });
  for (const o of opts.splitOutputs ?? (opts.flattened ? [] : [output])) {
    checkOutputPath(o, { force: opts.force, inputPath: fs.existsSync(input) ? input : undefined });
  }

  const reader = openDump(input, { vmcoreinfo: opts.vmcoreinfoOverride });
  let pool: CompressPool | null = null;
  try {
    // Workers start now, so their start-up overlaps classification.
    const threads = opts.numThreads ?? os.availableParallelism();
    if (codec && threads > 1 && opts.format === 'kdump' && !opts.splitOutputs) {
      // The workers read the pages themselves (each opens the input as we did): reading is
      // spread over the cores and every page is compressed while still in its core's cache.
      pool = CompressPool.start(codec.name, {
        threads,
        maxPages: BATCH_PAGES,
        pageSize: reader.info.pageSize,
        source: { path: input, ...(opts.vmcoreinfoOverride !== undefined ? { vmcoreinfo: opts.vmcoreinfoOverride } : {}) },
        // This thread is one of the compressors: one worker fewer to start (see CompressPool).
        local: { codec, readPages: (pfn, n, buf, off) => reader.readPages(pfn, n, buf, off) },
      });
    }
    const job = classifyInWindows(reader, opts);
    const cls = job.summary;
    const warnings = [...cls.warnings, ...(reader.warnings ?? []).map((w) => w.message)];
    let lastError: VmcoreError | undefined;
    for (let i = 0; i < opts.dumpLevels.length; i++) {
      const level = opts.dumpLevels[i]!;
      if (opts.splitOutputs) {
        try {
          const written = await writeSplit(job, level, opts.splitOutputs, opts, codec, input);
          return buildReport(input, opts.splitOutputs.join(','), reader, cls, level, written, warnings, opts, codec?.name ?? 'none', t0);
        } catch (e) {
          if (e instanceof VmcoreError && e.code === 'E_NO_SPACE' && i + 1 < opts.dumpLevels.length) {
            warnings.push(`no space at dump level ${level}; retried at ${opts.dumpLevels[i + 1]}`);
            lastError = e;
            continue;
          }
          throw e;
        }
      }
      const out = opts.flattened || opts.dryRun ? null : AtomicOutput.open(output, { force: opts.force, inputPath: input });
      try {
        if (pool) await pool.ready;
        const written = await writeOnce(reader, job, level, out, opts, codec, pool);
        out?.commit();
        return buildReport(input, output, reader, cls, level, written, warnings, opts, codec?.name ?? 'none', t0);
      } catch (e) {
        const last = i + 1 >= opts.dumpLevels.length;
        if (out && last && opts.keepIncomplete && e instanceof VmcoreError && e.code === 'E_NO_SPACE' && e.data.incomplete) {
          // The writer marked the header incomplete and never lets a descriptor point at data
          // that is not on disk: what was written is a readable dump of the pages it holds.
          out.commit();
          e.message += `; kept the incomplete dump as ${output} (its header says so)`;
          throw e;
        }
        out?.abort();
        if (e instanceof VmcoreError && e.code === 'E_NO_SPACE' && !last && !opts.flattened) {
          warnings.push(`no space at dump level ${level}; retried at ${opts.dumpLevels[i + 1]}`);
          lastError = e;
          continue;
        }
        throw e;
      }
    }
    throw lastError ?? new VmcoreError('E_INTERNAL', 'no dump level was tried');
  } finally {
    reader.close();
    await pool?.close();
  }
}

interface Written {
  bytes: number;
  zeroPages: number;
  dumpable: number;
}

async function writeOnce(
  reader: DumpReader,
  job: WindowedJob,
  level: number,
  out: AtomicOutput | null,
  opts: FilterOptions,
  codec: ReturnType<typeof loadCodec> | undefined,
  pool: CompressPool | null,
): Promise<Written> {
  let sink: DumpSink = opts.flattened
    ? new FlattenedSink((opts.dryRun ? discardStream() : (opts.stdout ?? process.stdout)) as never)
    : opts.dryRun
      ? new DiscardSink('(dry run)')
      : out!.sink();
  // makedumpfile measures -L by the bytes written for a stream or a dry run, else by file offset.
  if (opts.sizeLimit !== undefined) sink = new SizeLimitSink(sink, opts.sizeLimit, opts.flattened || opts.dryRun ? 'stream' : 'offset', out?.finalPath ?? sink.path);
  const progress = opts.onProgress ? (d: number, t: number) => opts.onProgress!('Copying data', d, t) : undefined;
  if (opts.format === 'elf' && !job.single) {
    // Windowed: the pfns to dump as runs (zero pages cleared window by window), then written.
    const { dumpable, zeroPages, count } = await job.elfDumpable(level, opts.onProgress);
    const r = await writeElfOutput(reader, { ...job.writerInput(level), dumpable }, sink, { minHolePages: opts.elfMinHolePages ?? 1, onProgress: progress });
    await sink.finish();
    return { bytes: r.bytesWritten, zeroPages, dumpable: count };
  }
  if (opts.format === 'elf') {
    // One window: pass 1's classes, as whole-dump bitmaps.
    const input = writerInput(reader, job.classes!, level);
    const dumpable = input.dumpable;
    let zeroPages = 0;
    if (level & 1) zeroPages = await excludeZeroPages(input, opts.onProgress);
    const r = await writeElfOutput(reader, input, sink, { minHolePages: opts.elfMinHolePages ?? 1, onProgress: progress });
    await sink.finish();
    return { bytes: r.bytesWritten, zeroPages, dumpable: dumpable.count() };
  }
  const input = job.writerInput(level);
  const numDumpable = input.windows!.numDumpable;
  const stats = await writeKdump(input, sink, { codec: codec ?? null, zeroPages: (level & 1) !== 0, onProgress: progress, compressor: pool });
  await sink.finish();
  return { bytes: stats.bytesWritten, zeroPages: (level & 1) !== 0 ? stats.zeroPages : 0, dumpable: numDumpable };
}

/** `--split`: every part from one pass over the windows (--dry-run: each to nowhere). */
async function writeSplit(
  job: WindowedJob,
  level: number,
  outputs: string[],
  opts: FilterOptions,
  codec: ReturnType<typeof loadCodec> | undefined,
  inputPath: string,
): Promise<Written> {
  const input = job.writerInput(level);
  const zeroPages = (level & 1) !== 0;
  const how = { codec: codec ?? null, zeroPages };
  const stats = opts.dryRun
    ? await writeSplitWindows(input, outputs.map(() => new DiscardSink('(dry run)')), how)
    : await writeSplitParts(input, outputs, { force: opts.force, inputPath, ...how });
  return {
    bytes: stats.reduce((s, x) => s + x.bytesWritten, 0),
    zeroPages: zeroPages ? stats.reduce((s, x) => s + x.zeroPages, 0) : 0,
    dumpable: input.windows!.numDumpable,
  };
}

/** What the writers need: the dump's pages and which of them `level` keeps. */
function writerInput(reader: DumpReader, cls: Classification & { lastKept: number }, level: number): PageWriterInput {
  const dumpable = buildDumpableBitmap(cls, level);
  // A pfn the input does not hold can never be dumped, whatever its class says.
  andInPlace(dumpable.bytes, reader.present.bytes);
  return {
    info: reader.info,
    maxMapnr: outputMaxMapnr(cls, cls.lastKept),
    present: reader.present,
    dumpable,
    dumpLevel: level,
    readPages: (pfn, count, buf, off) => reader.readPages(pfn, count, buf, off),
  };
}

/**
 * max_mapnr of the output: the input's, less a tail that is only memory without struct pages
 * (and holes). Those pages are never written, and makedumpfile 1.7.2, which ends its own
 * max_mapnr at the kernel's memory map, fails to refilter a dump whose max_mapnr reaches past it
 * (seen on QEMU dumps: "makedumpfile Failed." after "Excluding unnecessary pages").
 * `lastKept`: the highest pfn of another class (-1: none).
 */
function outputMaxMapnr(cls: ClassSummary, lastKept: number): number {
  if (cls.counts.no_struct_page === 0) return cls.maxMapnr;
  return lastKept + 1;
}

function andInPlace(a: Uint8Array, b: Uint8Array): void {
  const n = Math.min(a.length, b.length);
  let i = 0;
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0) {
    // Four bytes at a time (a 2^34-pfn window's bitmaps are 2 GiB).
    const a4 = new Uint32Array(a.buffer, a.byteOffset, n >>> 2);
    const b4 = new Uint32Array(b.buffer, b.byteOffset, n >>> 2);
    for (let k = 0; k < a4.length; k++) if (a4[k] !== 0) a4[k]! &= b4[k]!;
    i = a4.length * 4;
  }
  for (; i < n; i++) a[i]! &= b[i]!;
  for (let i = n; i < a.length; i++) a[i] = 0;
}


function buildReport(
  input: string,
  output: string,
  reader: DumpReader,
  cls: ClassSummary,
  level: number,
  w: Written,
  warnings: string[],
  opts: FilterOptions,
  codecName: string,
  t0: number,
): FilterReport {
  const classes = emptyClassCounts();
  const excluded = emptyClassCounts();
  const ex = excludedClasses(level);
  for (const k of PAGE_CLASSES) {
    if (k === 'zero') continue;
    const n = (cls.counts as Record<string, number>)[k] ?? 0;
    classes[k as PageClass] = n;
    if (ex.has(k as never)) excluded[k as PageClass] = n;
  }
  classes.zero = w.zeroPages;
  excluded.zero = w.zeroPages;
  const original = cls.maxMapnr - cls.counts.hole;
  const excludedTotal = PAGE_CLASSES.reduce((s, k) => s + excluded[k], 0);
  let inputBytes = 0;
  try {
    inputBytes = fs.statSync(input).size;
  } catch {
    /* gone */
  }
  return {
    schema: 'vmcore-filter/report@1',
    input: { path: input, format: reader.format, bytes: inputBytes, osrelease: reader.info.utsname.release || null },
    output: { path: output, format: opts.format, codec: codecName, flattened: !!opts.flattened, bytes: w.bytes },
    dumpLevel: level,
    pageTypes: {
      scheme: cls.pageTypes?.scheme ?? 'none',
      decidedBy: cls.pageTypes?.decidedBy ?? [],
      hinted: hintedRule(cls),
      reported: reportedOfReport(cls),
      hintedBy: {
        combined: cls.pageTypes?.canEncodeHinted ? cls.hintedBy.combined : null,
        reported: typeof cls.reported?.bit === 'number' ? cls.hintedBy.reported : null,
      },
    },
    pages: {
      total: cls.maxMapnr,
      hole: cls.counts.hole,
      original,
      excluded: excludedTotal,
      remaining: original - excludedTotal,
    },
    classes,
    excluded,
    undecided: { ...(cls.reasons as Record<string, number>) },
    warnings,
    elapsedMs: Math.round(performance.now() - t0),
  };
}

/** How hinted (reported) free pages are recognised in this dump, for the report. */
function hintedRule(cls: ClassSummary): string {
  const pt = cls.pageTypes;
  const r = cls.reported;
  const rules: string[] = [];
  if (r && r.bit !== null) rules.push(`buddy pages with page->flags bit ${r.bit} (PG_reported${r.by === 'option' ? ', --reported-bit' : ''})`);
  if (pt?.canEncodeHinted) rules.push(`_mapcount == BUDDY & OFFLINE (${(pt.values.buddy! & pt.values.offline!) | 0})`);
  if (rules.length) return rules.join(' and ');
  return r?.by === 'unknown'
    ? `not encodable in this kernel, and ${describeReportedBit(r)}; give --reported-bit to detect PG_reported pages`
    : 'not encodable in this kernel, and PG_reported not tested';
}

/** The PG_reported decision as the report carries it (pageTypes.reported). */
function reportedOfReport(cls: ClassSummary): FilterReport['pageTypes']['reported'] {
  const r = cls.reported;
  if (r === null) return { bit: null, by: 'none', keys: [], description: 'no usable VMCOREINFO: PG_reported not tested' };
  return {
    bit: r.bit,
    by: r.by,
    keys: r.by === 'vmcoreinfo' || r.by === 'unknown' ? [...r.keys] : [],
    description: describeReportedBit(r),
  };
}

/**
 * The classification of a filter job, pass 1 of makedumpfile's cyclic mode: every window is
 * classified once for the counts (the report, the number of dumpable pages that places the
 * data area, the output's max_mapnr). Pass 2 classifies each window again while writing it;
 * a dump that fits one window keeps its classes instead.
 */
interface WindowedJob {
  summary: ClassSummary;
  /** The dump fits one window (its classes are kept from pass 1). */
  single: boolean;
  /** ELF output: the pfns `level` dumps as runs, zero pages excluded when `level` says so. */
  elfDumpable(level: number, onProgress?: FilterOptions['onProgress']): Promise<{ dumpable: PfnRanges; zeroPages: number; count: number }>;
  /** The kdump writer's input for `level`, window by window (also --split's). */
  writerInput(level: number): PageWriterInput;
  /** Pass 1's classes when the dump is one window (`single`), else null: never re-allocated whole. */
  classes: (Classification & { lastKept: number }) | null;
}

function classifyInWindows(reader: DumpReader, opts: FilterOptions): WindowedJob {
  const k = prepareClassifier(reader, { dumpLevel: opts.dumpLevels[0]!, reportedBit: opts.reportedBit });
  const maxMapnr = reader.maxMapnr;
  const kib = opts.cyclicBufferKiB ?? DEFAULT_CYCLIC_BUFFER_KIB;
  const size = windowPfns(kib, k.pagesPerSection);
  const single = maxMapnr <= size;
  // Pass 1: the triage commands' walk; its one window buffer is pass 2's (or, single, the classes).
  const w1 = k.walk();
  let buf: Uint8Array = new Uint8Array(0);
  const summary = walkClassifier(k, (w) => void (buf = w.classes), kib, w1);
  const lastKept = w1.lastKept;
  const whole: (Classification & { lastKept: number }) | null = single ? { ...summary, classOf: buf, lastKept } : null;
  const outMax = outputMaxMapnr(summary, lastKept);
  const present = presentPfns(reader);
  const windowsAt = (level: number) => (single ? [singleWindow(whole!, level, present, outMax)] : passTwo(k, level, present, size, outMax, buf));
  return {
    summary,
    single,
    async elfDumpable(level, onProgress) {
      const runs: [number, number][] = [];
      let zeroPages = 0;
      let count = 0;
      let lastYield = performance.now();
      for (const w of windowsAt(level)) {
        // The output's temporary exists by now, so a signal is handled by our handler, which
        // needs the event loop: a dense dump of many windows must not hold it for the whole pass.
        if (performance.now() - lastYield >= ELF_WINDOWS_YIELD_MS) {
          await yieldToEventLoop();
          lastYield = performance.now();
        }
        if (w.empty) continue;
        const d = w.dumpable;
        const n = w.end - w.start;
        if (level & 1) {
          const at = w.start;
          const input: PageWriterInput = { info: reader.info, maxMapnr: n, present: w.present, dumpable: d, dumpLevel: level, readPages: (p, c, b, o) => reader.readPages(at + p, c, b, o) };
          zeroPages += await excludeZeroPages(input, onProgress);
        }
        for (let p = d.nextSet(0, n); p >= 0; ) {
          const q = d.nextClear(p, n);
          const last = runs[runs.length - 1];
          if (last && last[1] === w.start + p) last[1] = w.start + q;
          else runs.push([w.start + p, w.start + q]);
          count += q - p;
          if (q >= n) break;
          p = d.nextSet(q, n);
        }
      }
      return { dumpable: new PfnRanges(outMax, runs), zeroPages, count };
    },
    classes: whole,
    writerInput(level) {
      const ex = excludedClasses(level);
      let numDumpable = 0;
      for (const [name, n] of Object.entries(summary.counts)) if (name !== 'hole' && !ex.has(name as never)) numDumpable += n;
      const windows: PfnWindows = {
        numDumpable,
        windows: () => windowsAt(level),
      };
      return {
        info: reader.info,
        maxMapnr: outMax,
        // Whole bitmaps are not built: the writer takes windows.
        present: null as never,
        dumpable: null as never,
        windows,
        dumpLevel: level,
        readPages: (pfn, count, b, off) => reader.readPages(pfn, count, b, off),
      };
    },
  };
}

/** The one window of a dump that fits: its classes from pass 1. */
function singleWindow(cls: Classification, level: number, present: ReturnType<typeof presentPfns>, outMax: number): PfnWindow {
  const p = windowBits(present, 0, cls.maxMapnr);
  const dumpable = buildDumpableBitmap(cls, level);
  // A pfn the input does not hold can never be dumped, whatever its class says.
  andInPlace(dumpable.bytes, p.bytes);
  return { start: 0, end: outMax, present: p, dumpable };
}

/** Pass 2: each window classified again, its 2nd bitmap built, handed to the writer. */
function* passTwo(k: Classifier, level: number, present: ReturnType<typeof presentPfns>, size: number, outMax: number, buf: Uint8Array): Generator<PfnWindow> {
  const walk = k.walk();
  const scratch = { bytes: new Uint8Array(0) };
  let last: Bitmap | undefined;
  let none: Bitmap | null = null;
  for (let base = 0; base < outMax; base += size) {
    const end = Math.min(k.summary.maxMapnr, base + size);
    walk.window(base, end, buf);
    if (present.nextSet(base, end) < 0) {
      // Nothing present: no bitmap is built (a sparse 2^40-pfn space is 2^15 such windows).
      none ??= new Bitmap(size);
      yield { start: base, end: Math.min(end, outMax), present: none, dumpable: none, empty: true };
      continue;
    }
    const p = windowBits(present, base, end, scratch);
    const dumpable = (last = buildDumpableBitmap({ maxMapnr: end - base, classOf: buf }, level, last));
    andInPlace(dumpable.bytes, p.bytes);
    yield { start: base, end: Math.min(end, outMax), present: p, dumpable };
  }
}
