/**
 * `stats`: classify a dump without writing it, and answer the question asked before choosing
 * `-d` and a codec — how many pages each dump level keeps, and how many bytes each codec would
 * write. Byte counts are estimates: a deterministic sample of the stored pages (1 in N by rank)
 * is compressed with every codec and scaled to the pages each level keeps; with N = 1 they are
 * exact. Result schema `vmcore-filter/stats@1` (schema/stats.schema.json).
 */
import { VmcoreError } from '../errors.js';
import { presentPfns, readablePfns, type DumpReader } from '../formats/dump.js';
import type { PfnSet } from '../io/pfn-set.js';
import { openDump } from '../formats/probe.js';
import { computeLayout, PAGE_DESC_SIZE } from '../formats/kdump/layout.js';
import { CLASS_NAMES, NR_CLASSES, addClassCounts, dumpableTable, excludedClasses, summarizeDump, type ClassWindow, type PageClassName } from '../filter/index.js';
import { CODEC_NAMES, loadCodec, type CodecName, type PageCodec } from '../compress/index.js';
import { isZero } from '../compress/batch.js';
import { bitmapRuns, physHex, zoneRanges } from './ranges.js';

export const STATS_SCHEMA = 'vmcore-filter/stats@1';

/** Class names in the order reports list them (the filter report's order). */
const REPORT_ORDER = ['free', 'hinted', 'offline', 'hwpoison', 'zero', 'cache', 'cache_private', 'user', 'hugetlb', 'slab', 'kernel', 'unknown', 'no_struct_page'];

/** Levels every stats report shows: none, zero pages only, makedumpfile's default, everything. */
export const STANDARD_LEVELS = [0, 1, 16, 31] as const;
/** Default sampling: one stored page in this many. */
export const DEFAULT_SAMPLE_EVERY = 64;
/** Default cap on sampled pages (the stride grows on big dumps). */
export const DEFAULT_MAX_SAMPLE = 4096;

export interface StatsOptions {
  /** Extra dump levels to report (`-d`), besides {@link STANDARD_LEVELS}. */
  dumpLevels?: number[];
  reportedBit?: number | null;
  vmcoreinfoOverride?: string;
  /**
   * Sample one stored page in this many. Given explicitly it is used as is (1 = read and
   * compress every page: exact bytes); by default 64, raised so at most {@link DEFAULT_MAX_SAMPLE}
   * pages are read.
   */
  sampleEvery?: number;
  /** Codecs to try (default: all; those that cannot load are reported with the reason). */
  codecs?: CodecName[];
}

/** Pages of each class (holes left out). */
export type ClassCounts = Record<Exclude<PageClassName, 'hole'>, number>;

export interface StatsArea {
  name: string;
  startPfn: number;
  endPfn: number;
  start: string;
  end: string;
  /** Present pfns in the area. */
  pages: number;
  classes: ClassCounts;
}

/** One codec's estimate for one dump level. */
export interface CodecEstimate {
  codec: 'none' | CodecName;
  /** Estimated size of the kdump-compressed file, headers and bitmaps included; null if the codec cannot load. */
  bytes: number | null;
  /** bytes / (pages kept × page size): how well the kept pages compress. */
  ratio: number | null;
}

export interface LevelStats {
  level: number;
  /** Classes this level excludes ("zero" with bit 1: by content). */
  excludes: string[];
  /** Pages whose class the level keeps (its 2nd bitmap): exact. */
  dumpable: number;
  /** Of those, the zero-filled pages bit 1 drops: estimated from the sample (null without bit 1). */
  zeroPages: number | null;
  /** Pages written with data: dumpable − zero pages. */
  kept: number;
  /** Whether `kept` and the byte counts are exact (every page was sampled). */
  exact: boolean;
  /** Sampled pages this level keeps (the base of its estimates). */
  samplePages: number;
  estimates: CodecEstimate[];
}

export interface DumpStats {
  schema: typeof STATS_SCHEMA;
  path: string;
  format: string;
  kernel: string | null;
  pageSize: number;
  pages: { total: number; hole: number; present: number; stored: number };
  classes: ClassCounts;
  zones: StatsArea[];
  ranges: StatsArea[];
  rangesTruncated: boolean;
  sample: {
    every: number;
    pages: number;
    zeroPages: number;
    unreadable: number;
    codecs: { codec: 'none' | CodecName; available: boolean; implementation: string | null; reason: string | null }[];
    note: string;
  };
  levels: LevelStats[];
  undecided: Record<string, number>;
  warnings: string[];
}

/** Open `path`, gather its statistics, close it. */
export function dumpStatsFile(path: string, opts: StatsOptions = {}): DumpStats {
  const reader = openDump(path, { vmcoreinfo: opts.vmcoreinfoOverride });
  try {
    return dumpStats(reader, opts);
  } finally {
    reader.close();
  }
}

function emptyClassCounts(): ClassCounts {
  const c = {} as ClassCounts;
  for (const n of CLASS_NAMES) if (n !== 'hole') c[n] = 0;
  return c;
}

function countsOf(arr: Float64Array): ClassCounts {
  const c = emptyClassCounts();
  for (let i = 0; i < NR_CLASSES; i++) if (CLASS_NAMES[i] !== 'hole') c[CLASS_NAMES[i] as keyof ClassCounts] = arr[i]!;
  return c;
}

/** A codec to try, or why it cannot load. */
interface SampleCodec {
  name: 'none' | CodecName;
  codec: PageCodec | null;
  reason: string | null;
}

function loadCodecs(names: readonly CodecName[]): SampleCodec[] {
  return (['none', ...names] as ('none' | CodecName)[]).map((name) => {
    if (name === 'none') return { name, codec: null, reason: null };
    try {
      return { name, codec: loadCodec(name), reason: null };
    } catch (e) {
      if (!(e instanceof VmcoreError)) throw e;
      return { name, codec: null, reason: e.message };
    }
  });
}

/**
 * The sample: stored page number 0, every, 2 × every … in pfn order (rank among stored pages),
 * read and compressed with every codec while its window's classes are at hand.
 */
class PageSampler {
  readonly sampleClass: number[] = [];
  readonly sampleZero: boolean[] = [];
  /** sizes[c][i]: stored size of sample i with codec c (page size when it does not shrink). */
  readonly sizes: number[][];
  unreadable = 0;
  /** Stored pages before the current window. */
  private rank = 0;
  private readonly page: Uint8Array;
  private readonly out: Uint8Array;

  constructor(
    private readonly reader: DumpReader,
    private readonly stored: PfnSet,
    readonly every: number,
    readonly codecs: SampleCodec[],
  ) {
    const ps = reader.info.pageSize;
    this.sizes = codecs.map(() => []);
    this.page = new Uint8Array(ps);
    this.out = new Uint8Array(ps + 64);
  }

  /** Sample the stored pages of window `w`, run by run. */
  window(w: ClassWindow): void {
    const stored = this.stored;
    for (let p = stored.nextSet(w.base, w.end); p >= 0; ) {
      const q = stored.nextClear(p, w.end);
      for (let x = p + ((this.every - (this.rank % this.every)) % this.every); x < q; x += this.every) this.take(x, w.classes[x - w.base]!);
      this.rank += q - p;
      if (q >= w.end) break;
      p = stored.nextSet(q, w.end);
    }
  }

  private take(pfn: number, cls: number): void {
    const ps = this.page.length;
    try {
      this.reader.readPages(pfn, 1, this.page, 0);
    } catch (e) {
      if (!(e instanceof VmcoreError)) throw e;
      this.unreadable++;
      return;
    }
    this.sampleClass.push(cls);
    this.sampleZero.push(isZero(this.page, 0, ps));
    this.codecs.forEach((c, ci) => {
      if (c.name === 'none') this.sizes[ci]!.push(ps);
      else if (c.codec) {
        const n = c.codec.compress(this.page, this.out.subarray(0, ps));
        this.sizes[ci]!.push(n > 0 ? n : ps);
      }
    });
  }
}

/** Add window `w`'s classes to the counts of the areas (sorted, disjoint pfn ranges) it meets. */
function countAreas(w: ClassWindow, areas: readonly { start: number; end: number }[], counts: Float64Array[]): void {
  areas.forEach((a, i) => {
    const s = Math.max(a.start, w.base);
    const e = Math.min(a.end, w.end);
    if (e > s) addClassCounts(w.classes, s - w.base, e - w.base, counts[i]!);
  });
}

/**
 * Classify `reader` and estimate every level × codec. Reads only the sampled pages. Window by
 * window (the area counts and the sample are taken as each window is classified), from the
 * readers' pfn sets: memory is bounded by the window, not by max_mapnr.
 */
export function dumpStats(reader: DumpReader, opts: StatsOptions = {}): DumpStats {
  const ps = reader.info.pageSize;
  const maxMapnr = reader.maxMapnr;
  const present = presentPfns(reader);
  const stored = readablePfns(reader);
  const presentPages = present.count();
  const storedPages = stored === present ? presentPages : stored.count();
  const zoneAreas = zoneRanges(ps, maxMapnr, reader.info.utsname.machine === 'aarch64' ? 'arm64' : 'x86_64');
  const runs = bitmapRuns(present);
  const zoneCounts = zoneAreas.map(() => new Float64Array(NR_CLASSES));
  const rangeCounts = runs.ranges.map(() => new Float64Array(NR_CLASSES));
  const explicit = opts.sampleEvery !== undefined;
  const every = explicit ? Math.max(1, opts.sampleEvery!) : Math.max(DEFAULT_SAMPLE_EVERY, Math.ceil(storedPages / DEFAULT_MAX_SAMPLE));
  const sampler = new PageSampler(reader, stored, every, loadCodecs(opts.codecs ?? CODEC_NAMES));
  const cls = summarizeDump(reader, { dumpLevel: 31, reportedBit: opts.reportedBit, alwaysWalkFreeLists: true }, (w) => {
    // An empty window is all holes, which no area counts.
    if (w.empty) return;
    countAreas(w, zoneAreas, zoneCounts);
    countAreas(w, runs.ranges, rangeCounts);
    sampler.window(w);
  });
  const warnings = [...cls.warnings, ...(reader.warnings ?? []).map((w) => w.message)];
  const area = (name: string, s: number, e: number, a: Float64Array): StatsArea => ({
    name,
    startPfn: s,
    endPfn: e,
    start: physHex(s, ps),
    end: physHex(e, ps),
    pages: present.count(s, e),
    classes: countsOf(a),
  });
  const zones = zoneAreas.map((z, i) => area(z.name, z.start, z.end, zoneCounts[i]!));
  const ranges = runs.ranges.map((r, i) => area(`#${i}`, r.start, r.end, rangeCounts[i]!));
  const { codecs, sampleClass, sampleZero, unreadable } = sampler;
  if (unreadable) warnings.push(`${unreadable} sampled page(s) could not be read and were left out of the estimates`);
  const nSample = sampleClass.length;
  const exactSample = every === 1 && unreadable === 0;

  // --- Levels. ---
  const levels = [...new Set([...STANDARD_LEVELS, ...(opts.dumpLevels ?? [])])].sort((a, b) => a - b);
  const layout = computeLayout(ps, maxMapnr, reader.info.notes.length);
  const classCount = new Float64Array(NR_CLASSES);
  for (let i = 0; i < NR_CLASSES; i++) classCount[i] = cls.counts[CLASS_NAMES[i]!];
  const levelStats = levels.map((level) => statsOfLevel(level, classCount, sampler, layout.pdOffset, ps, exactSample));

  return {
    schema: STATS_SCHEMA,
    path: reader.path,
    format: reader.format,
    kernel: reader.info.utsname.release || null,
    pageSize: ps,
    pages: { total: maxMapnr, hole: maxMapnr - presentPages, present: presentPages, stored: storedPages },
    classes: countsOf(classCount),
    zones,
    ranges,
    rangesTruncated: runs.truncated,
    sample: {
      every,
      pages: nSample,
      zeroPages: sampleZero.filter(Boolean).length,
      unreadable,
      codecs: codecs.map((c) => ({ codec: c.name, available: c.name === 'none' || c.codec !== null, implementation: c.codec?.implementation ?? (c.name === 'none' ? 'raw pages' : null), reason: c.reason })),
      note: exactSample
        ? `bytes are exact: every one of the ${nSample} stored pages was compressed`
        : `bytes are estimates from a sample of ${nSample} pages (1 stored page in ${every})`,
    },
    levels: levelStats,
    undecided: { ...(cls.reasons as Record<string, number>) },
    warnings,
  };
}

/**
 * What dump level `level` keeps (exact, from the class counts) and writes (estimated from the
 * sample, scaled to the pages kept). `pdOffset`: where a kdump file's page descriptors start.
 */
function statsOfLevel(level: number, classCount: Float64Array, sampler: PageSampler, pdOffset: number, ps: number, exactSample: boolean): LevelStats {
  const { codecs, sampleClass, sampleZero, sizes } = sampler;
  const nSample = sampleClass.length;
  const t = dumpableTable(level);
  let dumpable = 0;
  for (let i = 0; i < NR_CLASSES; i++) if (t[i]) dumpable += classCount[i]!;
  const zeroBit = (level & 1) !== 0;
  let kept = 0;
  let zeros = 0;
  const sums = codecs.map(() => 0);
  for (let i = 0; i < nSample; i++) {
    if (!t[sampleClass[i]!]) continue;
    kept++;
    if (zeroBit && sampleZero[i]) {
      zeros++;
      continue;
    }
    for (let ci = 0; ci < codecs.length; ci++) sums[ci]! += sizes[ci]![i] ?? 0;
  }
  const scale = kept > 0 ? dumpable / kept : 0;
  const zeroPages = zeroBit ? (kept > 0 ? Math.round(zeros * scale) : 0) : null;
  const keptPages = dumpable - (zeroPages ?? 0);
  const overhead = pdOffset + PAGE_DESC_SIZE * dumpable + (zeroBit ? ps : 0);
  const estimates = codecs.map((c, ci): CodecEstimate => {
    if (c.name !== 'none' && !c.codec) return { codec: c.name, bytes: null, ratio: null };
    // With nothing sampled at this level, assume pages do not compress (an upper bound).
    const data = kept > 0 ? Math.round(sums[ci]! * scale) : keptPages * ps;
    const bytes = overhead + data;
    return { codec: c.name, bytes, ratio: keptPages > 0 ? Math.round((data / (keptPages * ps)) * 1000) / 1000 : null };
  });
  const exSet = new Set<string>(excludedClasses(level));
  if (zeroBit) exSet.add('zero');
  const ex = REPORT_ORDER.filter((k) => exSet.has(k));
  return { level, excludes: ex, dumpable, zeroPages, kept: keptPages, exact: exactSample || (!zeroBit && dumpable === 0), samplePages: kept, estimates };
}
