/**
 * A picture of physical memory: the classifier's per-pfn classes binned into cells of
 * 2^k pages, each cell taking the class most of its pages have, filled window by window
 * ({@link mapDump}). Page data is read only to find zero pages, and only when the caller asks.
 */
import { VmcoreError } from '../errors.js';
import { readablePfns, type DumpReader } from '../formats/dump.js';
import { Bitmap } from '../io/bitmap.js';
import type { PfnSet } from '../io/pfn-set.js';
import { CLASS_NAMES, NR_CLASSES, PageClass } from '../filter/classes.js';
import { excludedClasses } from '../filter/dumplevel.js';
import { addClassCounts, prepareClassifier, walkClassifier, type ClassSummary } from '../filter/index.js';
import { isZero } from '../compress/batch.js';
import { MAP_CLASS_NAMES, ZERO_CLASS, type MapClassName } from './palette.js';

export * from './palette.js';

/** The binned picture, ready to render. */
export interface MemoryMap {
  /** Dump file name and kernel release, for the title. */
  source: string;
  release: string | null;
  maxMapnr: number;
  pageSize: number;
  pagesPerCell: number;
  columns: number;
  rows: number;
  /** Dominant map-class id per cell (row-major; cells past max_mapnr are 255). */
  cells: Uint8Array;
  /** Pages per map class. */
  pages: Record<MapClassName, number>;
  /** Cells per dominant map class. */
  cellsByClass: Record<MapClassName, number>;
  /** Dump level whose excluded classes are hatched, or null. */
  dumpLevel: number | null;
  /** Classes excluded at `dumpLevel` (zero pages included when level has bit 1). */
  excluded: MapClassName[];
  /** Whether zero pages were looked for. */
  zeroDetected: boolean;
}

export interface MemoryMapOptions {
  source: string;
  release: string | null;
  pageSize?: number;
  /** Cells per row (default 64). */
  columns?: number;
  /** Most cells in the picture (default 64 × 256). */
  maxCells?: number;
  /** Pfns found all-zero (from {@link detectZeroPages}): shown as `zero`. */
  zero?: Uint8Array | null;
  dumpLevel?: number | null;
}

const NONE = 255;

/**
 * Cells filled in pfn order, a window of classes at a time, so the picture of a 2^34-pfn space
 * needs one window of classes, not max_mapnr bytes. A cell may span windows (its histogram is
 * kept until its last pfn is added) or a window many cells.
 */
export class MapBinner {
  readonly pagesPerCell: number;
  readonly columns: number;
  readonly rows: number;
  readonly cells: Uint8Array;
  readonly pages: Record<MapClassName, number>;
  readonly cellsByClass: Record<MapClassName, number>;
  /** Pages per map class of the cell being filled. */
  private readonly hist = new Float64Array(MAP_CLASS_NAMES.length);
  /** First pfn not yet added. */
  private next = 0;

  constructor(
    readonly maxMapnr: number,
    opts: { columns?: number; maxCells?: number } = {},
  ) {
    const columns = (this.columns = opts.columns ?? 64);
    const maxCells = opts.maxCells ?? 64 * 256;
    if (!Number.isInteger(columns) || columns < 1 || columns > 1024) throw new VmcoreError('E_USAGE', `map: columns must be 1..1024, got ${columns}`, { option: '--columns' });
    if (maxMapnr <= 0) throw new VmcoreError('E_FORMAT', 'map: the dump describes no pages');
    let ppc = 1;
    while (Math.ceil(maxMapnr / ppc) > maxCells) ppc *= 2;
    this.pagesPerCell = ppc;
    this.rows = Math.ceil(Math.ceil(maxMapnr / ppc) / columns);
    this.cells = new Uint8Array(this.rows * columns).fill(NONE);
    this.pages = Object.fromEntries(MAP_CLASS_NAMES.map((n) => [n, 0])) as Record<MapClassName, number>;
    this.cellsByClass = { ...this.pages };
  }

  /**
   * Add pfns [base, end) (base = the previous end): class of pfn base + i is `classes[i]`, or
   * `zero` when bit i of `zero` is set; `classes` null: all holes.
   */
  add(base: number, end: number, classes: Uint8Array | null, zero: Bitmap | null = null): void {
    if (base !== this.next || end > this.maxMapnr) throw new VmcoreError('E_INTERNAL', `map: pfns [${base}, ${end}) do not follow ${this.next}`);
    const ppc = this.pagesPerCell;
    const hist = this.hist;
    for (let a = base; a < end; ) {
      const cellEnd = Math.min(this.maxMapnr, (Math.floor(a / ppc) + 1) * ppc);
      const b = Math.min(end, cellEnd);
      if (classes === null) hist[PageClass.hole]! += b - a;
      else {
        addClassCounts(classes, a - base, b - base, hist);
        // a zero page counts as `zero` instead of its class
        for (let p = zero ? zero.nextSet(a - base, b - base) : -1; p >= 0; p = zero!.nextSet(p + 1, b - base)) {
          hist[classes[p]!]!--;
          hist[ZERO_CLASS]!++;
        }
      }
      if (b === cellEnd) this.closeCell(Math.floor(a / ppc));
      a = b;
    }
    this.next = end;
  }

  /** The cell's dominant class (the lowest id on a tie), and its pages into the totals. */
  private closeCell(c: number): void {
    const hist = this.hist;
    let best = 0;
    for (let k = 1; k < hist.length; k++) if (hist[k]! > hist[best]!) best = k;
    this.cells[c] = best;
    this.cellsByClass[MAP_CLASS_NAMES[best]!]++;
    for (let k = 0; k < hist.length; k++) this.pages[MAP_CLASS_NAMES[k]!] += hist[k]!;
    hist.fill(0);
  }

  /** The picture (after the last pfn is added); `zeroDetected`: whether zero pages were looked for. */
  finish(opts: Omit<MemoryMapOptions, 'zero'>, zeroDetected: boolean): MemoryMap {
    if (this.next !== this.maxMapnr) throw new VmcoreError('E_INTERNAL', `map: pfns from ${this.next} were not added`);
    const level = opts.dumpLevel ?? null;
    const excluded: MapClassName[] = level === null ? [] : [...excludedClasses(level)];
    if (level !== null && level & 1) excluded.push('zero');
    return {
      source: opts.source,
      release: opts.release,
      maxMapnr: this.maxMapnr,
      pageSize: opts.pageSize ?? 4096,
      pagesPerCell: this.pagesPerCell,
      columns: this.columns,
      rows: this.rows,
      cells: this.cells,
      pages: this.pages,
      cellsByClass: this.cellsByClass,
      dumpLevel: level,
      excluded,
      zeroDetected,
    };
  }
}

/**
 * Bin `classOf` into cells. Pages per cell is the smallest power of two that keeps the
 * picture within `maxCells`.
 */
export function buildMemoryMap(classOf: Uint8Array, maxMapnr: number, opts: MemoryMapOptions): MemoryMap {
  const b = new MapBinner(maxMapnr, opts);
  let zero: Bitmap | null = null;
  if (opts.zero) {
    zero = new Bitmap(maxMapnr);
    for (let p = 0; p < maxMapnr; p++) if (opts.zero[p]) zero.set(p);
  }
  b.add(0, maxMapnr, classOf, zero);
  return b.finish(opts, zero !== null);
}

/** Pages read at a time while looking for zero pages. */
const ZERO_RUN = 256;

/**
 * Finds all-zero pages, a window at a time, by reading them: the readable pages whose class
 * dump level `level` keeps (every readable page when `level` is null).
 */
export class ZeroPageFinder {
  /** Per class id: whether the level keeps it (holes never). */
  private readonly keep = new Uint8Array(NR_CLASSES + 1);
  private readonly buf: Uint8Array;

  constructor(
    private readonly reader: DumpReader,
    private readonly readable: PfnSet,
    level: number | null,
  ) {
    const ex = level === null ? new Set<string>() : excludedClasses(level);
    for (let k = 0; k < NR_CLASSES; k++) this.keep[k] = ex.has(CLASS_NAMES[k]!) ? 0 : 1;
    this.keep[PageClass.hole] = 0;
    this.buf = new Uint8Array(ZERO_RUN * reader.info.pageSize);
  }

  /** Set bit i of `out` (cleared first) for each zero page base + i of window [base, end) (`classes[i]`: its class). */
  window(base: number, end: number, classes: Uint8Array, out: Bitmap): void {
    out.clearRange(0, end - base);
    const { readable, keep } = this;
    for (let pfn = readable.nextSet(base, end); pfn >= 0; ) {
      if (!keep[classes[pfn - base]!]) {
        pfn = readable.nextSet(pfn + 1, end);
        continue;
      }
      const runEnd = Math.min(readable.nextClear(pfn, end), pfn + ZERO_RUN);
      let e = pfn + 1;
      while (e < runEnd && keep[classes[e - base]!]) e++;
      this.findIn(pfn, e, out, base);
      pfn = e >= end ? -1 : readable.nextSet(e, end);
    }
  }

  /** Read pages [pfn, e) and mark the zero ones (bit p - base). */
  private findIn(pfn: number, e: number, out: Bitmap, base: number): void {
    const ps = this.buf.length / ZERO_RUN;
    this.reader.readPages(pfn, e - pfn, this.buf, 0);
    for (let i = 0; i < e - pfn; i++) if (isZero(this.buf, i * ps, ps)) out.set(pfn - base + i);
  }
}

/**
 * Find all-zero pages by reading them: the readable pages whose class `level` keeps (all
 * readable pages when `level` is null). Returns one byte per pfn (1 = zero).
 */
export function detectZeroPages(reader: DumpReader, classOf: Uint8Array, level: number | null): Uint8Array {
  const n = reader.maxMapnr;
  const bits = new Bitmap(n);
  new ZeroPageFinder(reader, readablePfns(reader), level).window(0, n, classOf, bits);
  const out = new Uint8Array(n);
  for (let p = bits.nextSet(0); p >= 0; p = bits.nextSet(p + 1)) out[p] = 1;
  return out;
}

/** Options of {@link mapDump}. */
export interface MapDumpOptions extends Omit<MemoryMapOptions, 'zero'> {
  reportedBit?: number | null;
  /** Read page data to find zero pages (also implied by a dump level with bit 1). */
  zero?: boolean;
}

/**
 * Classify `reader` window by window and bin each window as it comes (zero pages looked for in
 * it when asked, marked in a window bitmap): memory is bounded by the window, not by
 * max_mapnr. Returns the picture and the classification's summary (its warnings).
 */
export function mapDump(reader: DumpReader, opts: MapDumpOptions): { map: MemoryMap; summary: ClassSummary } {
  const level = opts.dumpLevel ?? null;
  // free lists are walked whatever the level: the picture shows free pages in any case
  const k = prepareClassifier(reader, { dumpLevel: level ?? 0, reportedBit: opts.reportedBit, alwaysWalkFreeLists: true });
  const binner = new MapBinner(reader.maxMapnr, opts);
  const finder = opts.zero === true || (level !== null && (level & 1) !== 0) ? new ZeroPageFinder(reader, k.readable, level) : null;
  let zero: Bitmap | null = null;
  const summary = walkClassifier(k, (w) => {
    if (w.empty) return binner.add(w.base, w.end, null);
    if (finder) {
      zero ??= new Bitmap(w.classes.length);
      finder.window(w.base, w.end, w.classes, zero);
    }
    binner.add(w.base, w.end, w.classes, zero);
  });
  return { map: binner.finish(opts, finder !== null), summary };
}

export { renderMapSvg } from './svg.js';
