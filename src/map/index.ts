/**
 * A picture of physical memory: the classifier's per-pfn classes binned into cells of
 * 2^k pages, each cell taking the class most of its pages have, filled window by window
 * ({@link mapDump}). Page data is read only to find zero pages, and only when the caller asks.
 */
import { VmcoreError } from '../errors.js';
import { readablePfns, type DumpReader } from '../formats/dump.js';
import type { PfnSet } from '../io/pfn-set.js';
import { CLASS_NAMES, NR_CLASSES, PageClass } from '../filter/classes.js';
import { excludedClasses } from '../filter/dumplevel.js';
import { addClassCounts, prepareClassifier, walkClassifier, type ClassSummary } from '../filter/index.js';
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
   * `zero` when zero[i] is set; `classes` null: all holes.
   */
  add(base: number, end: number, classes: Uint8Array | null, zero: Uint8Array | null = null): void {
    if (base !== this.next || end > this.maxMapnr) throw new VmcoreError('E_INTERNAL', `map: pfns [${base}, ${end}) do not follow ${this.next}`);
    const ppc = this.pagesPerCell;
    const hist = this.hist;
    for (let a = base; a < end; ) {
      const cellEnd = Math.min(this.maxMapnr, (Math.floor(a / ppc) + 1) * ppc);
      const b = Math.min(end, cellEnd);
      if (classes === null) hist[PageClass.hole]! += b - a;
      else if (zero === null) addClassCounts(classes, a - base, b - base, hist);
      else for (let p = a - base; p < b - base; p++) hist[zero[p] ? ZERO_CLASS : classes[p]!]!++;
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
  b.add(0, maxMapnr, classOf, opts.zero ?? null);
  return b.finish(opts, (opts.zero ?? null) !== null);
}

/** Pages read at a time while looking for zero pages. */
const ZERO_RUN = 256;

/** Per class id (and `hole`): whether dump level `level` keeps it (null: every class but holes). */
function keptClasses(level: number | null): Uint8Array {
  const ex = level === null ? new Set<string>() : excludedClasses(level);
  const keep = new Uint8Array(NR_CLASSES + 1);
  for (let k = 0; k < NR_CLASSES; k++) keep[k] = ex.has(CLASS_NAMES[k]!) ? 0 : 1;
  keep[PageClass.hole] = 0;
  return keep;
}

/**
 * Find the all-zero pages of window [base, end) by reading them: the readable pfns whose class
 * (`classes[i]` for pfn base + i) `keep` accepts. Sets out[i] to 1 for a zero page, 0 otherwise.
 */
export function detectZeroPagesIn(reader: DumpReader, readable: PfnSet, keep: Uint8Array, base: number, end: number, classes: Uint8Array, out: Uint8Array): void {
  out.fill(0, 0, end - base);
  const ps = reader.info.pageSize;
  const buf = new Uint8Array(ZERO_RUN * ps);
  const words = new BigUint64Array(buf.buffer);
  const per = ps / 8;
  for (let pfn = readable.nextSet(base, end); pfn >= 0; ) {
    if (!keep[classes[pfn - base]!]) {
      pfn = readable.nextSet(pfn + 1, end);
      continue;
    }
    const runEnd = Math.min(readable.nextClear(pfn, end), pfn + ZERO_RUN);
    let e = pfn + 1;
    while (e < runEnd && keep[classes[e - base]!]) e++;
    reader.readPages(pfn, e - pfn, buf, 0);
    for (let i = 0; i < e - pfn; i++) {
      let z = 1;
      for (let w = i * per; w < (i + 1) * per; w++) {
        if (words[w] !== 0n) {
          z = 0;
          break;
        }
      }
      out[pfn - base + i] = z;
    }
    pfn = e >= end ? -1 : readable.nextSet(e, end);
  }
}

/**
 * Find all-zero pages by reading them: the readable pages whose class `level` keeps (all
 * readable pages when `level` is null). Returns one byte per pfn (1 = zero).
 */
export function detectZeroPages(reader: DumpReader, classOf: Uint8Array, level: number | null): Uint8Array {
  const out = new Uint8Array(reader.maxMapnr);
  detectZeroPagesIn(reader, readablePfns(reader), keptClasses(level), 0, reader.maxMapnr, classOf, out);
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
 * it when asked): memory is bounded by the window, not by max_mapnr. Returns the picture and
 * the classification's summary (its warnings).
 */
export function mapDump(reader: DumpReader, opts: MapDumpOptions): { map: MemoryMap; summary: ClassSummary } {
  const level = opts.dumpLevel ?? null;
  // free lists are walked whatever the level: the picture shows free pages in any case
  const k = prepareClassifier(reader, { dumpLevel: level ?? 0, reportedBit: opts.reportedBit, alwaysWalkFreeLists: true });
  const binner = new MapBinner(reader.maxMapnr, opts);
  const findZero = opts.zero === true || (level !== null && (level & 1) !== 0);
  const keep = keptClasses(level);
  let zero: Uint8Array | null = null;
  const summary = walkClassifier(k, (w) => {
    if (w.empty) return binner.add(w.base, w.end, null);
    if (findZero) {
      zero ??= new Uint8Array(w.classes.length);
      detectZeroPagesIn(reader, k.readable, keep, w.base, w.end, w.classes, zero);
    }
    binner.add(w.base, w.end, w.classes, zero);
  });
  return { map: binner.finish(opts, findZero), summary };
}

export { renderMapSvg } from './svg.js';
