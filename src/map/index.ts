/**
 * A picture of physical memory: the classifier's per-pfn classes binned into cells of
 * 2^k pages, each cell taking the class most of its pages have. Pure: page data is read only
 * by {@link detectZeroPages}, and only when the caller asks for zero pages.
 */
import { VmcoreError } from '../errors.js';
import { readableBitmap, type DumpReader } from '../formats/dump.js';
import { CLASS_NAMES, NR_CLASSES, PageClass } from '../filter/classes.js';
import { excludedClasses } from '../filter/dumplevel.js';
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
 * Bin `classOf` into cells. Pages per cell is the smallest power of two that keeps the
 * picture within `maxCells`.
 */
export function buildMemoryMap(classOf: Uint8Array, maxMapnr: number, opts: MemoryMapOptions): MemoryMap {
  const columns = opts.columns ?? 64;
  const maxCells = opts.maxCells ?? 64 * 256;
  if (!Number.isInteger(columns) || columns < 1 || columns > 1024) throw new VmcoreError('E_USAGE', `map: columns must be 1..1024, got ${columns}`, { option: '--columns' });
  if (maxMapnr <= 0) throw new VmcoreError('E_FORMAT', 'map: the dump describes no pages');
  let ppc = 1;
  while (Math.ceil(maxMapnr / ppc) > maxCells) ppc *= 2;
  const nCells = Math.ceil(maxMapnr / ppc);
  const rows = Math.ceil(nCells / columns);
  const cells = new Uint8Array(rows * columns).fill(NONE);
  const pages = Object.fromEntries(MAP_CLASS_NAMES.map((n) => [n, 0])) as Record<MapClassName, number>;
  const cellsByClass = { ...pages };
  const hist = new Uint32Array(MAP_CLASS_NAMES.length);
  const zero = opts.zero ?? null;
  for (let c = 0; c < nCells; c++) {
    hist.fill(0);
    const a = c * ppc;
    const b = Math.min(maxMapnr, a + ppc);
    for (let p = a; p < b; p++) {
      const k = zero && zero[p] ? ZERO_CLASS : classOf[p]!;
      hist[k]!++;
    }
    let best = 0;
    for (let k = 1; k < hist.length; k++) if (hist[k]! > hist[best]!) best = k;
    cells[c] = best;
    cellsByClass[MAP_CLASS_NAMES[best]!]++;
    for (let k = 0; k < hist.length; k++) pages[MAP_CLASS_NAMES[k]!] += hist[k]!;
  }
  const level = opts.dumpLevel ?? null;
  const excluded: MapClassName[] = level === null ? [] : [...excludedClasses(level)];
  if (level !== null && level & 1) excluded.push('zero');
  return {
    source: opts.source,
    release: opts.release,
    maxMapnr,
    pageSize: opts.pageSize ?? 4096,
    pagesPerCell: ppc,
    columns,
    rows,
    cells,
    pages,
    cellsByClass,
    dumpLevel: level,
    excluded,
    zeroDetected: zero !== null,
  };
}

/**
 * Find all-zero pages by reading them: the readable pages whose class `level` keeps (all
 * readable pages when `level` is null). Returns one byte per pfn (1 = zero).
 */
export function detectZeroPages(reader: DumpReader, classOf: Uint8Array, level: number | null): Uint8Array {
  const ex = level === null ? new Set<string>() : excludedClasses(level);
  const keep = new Uint8Array(NR_CLASSES + 1);
  for (let k = 0; k < NR_CLASSES; k++) keep[k] = ex.has(CLASS_NAMES[k]!) ? 0 : 1;
  keep[PageClass.hole] = 0;
  const readable = readableBitmap(reader);
  const ps = reader.info.pageSize;
  const RUN = 256;
  const buf = new Uint8Array(RUN * ps);
  const words = new BigUint64Array(buf.buffer);
  const out = new Uint8Array(reader.maxMapnr);
  let pfn = readable.nextSet(0);
  while (pfn >= 0 && pfn < reader.maxMapnr) {
    if (!keep[classOf[pfn]!]) {
      pfn = readable.nextSet(pfn + 1);
      continue;
    }
    let end = pfn + 1;
    while (end < reader.maxMapnr && end - pfn < RUN && readable.get(end) && keep[classOf[end]!]) end++;
    reader.readPages(pfn, end - pfn, buf, 0);
    const per = ps / 8;
    for (let i = 0; i < end - pfn; i++) {
      let z = 1;
      for (let w = i * per; w < (i + 1) * per; w++) {
        if (words[w] !== 0n) {
          z = 0;
          break;
        }
      }
      out[pfn + i] = z;
    }
    pfn = readable.nextSet(end);
  }
  return out;
}

export { renderMapSvg } from './svg.js';
