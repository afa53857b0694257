/**
 * Render a {@link MemoryMap} as a standalone SVG: title with the kernel release, a grid of
 * cells (runs of one class drawn as one rectangle, crisp edges so colours stay exact), physical
 * addresses down the left and offsets along the top, and a legend with page counts.
 */
import type { MemoryMap } from './index.js';
import { MAP_CLASS_NAMES, MAP_COLOURS, MAP_LABELS, MAP_LEGEND_ORDER, type MapClassName } from './palette.js';

/** Geometry of a rendered map (exported so tests can find the grid in a screenshot). */
export interface MapGeometry {
  width: number;
  height: number;
  gridX: number;
  gridY: number;
  cellW: number;
  cellH: number;
}

const LEFT = 140;
const TOP = 78;
const LEGEND_W = 330;

/** Cell size and canvas size for a map. */
export function mapGeometry(map: MemoryMap): MapGeometry {
  const cellW = map.columns <= 64 ? 10 : map.columns <= 128 ? 6 : 3;
  const cellH = map.rows <= 64 ? 10 : map.rows <= 128 ? 6 : 4;
  const legendH = 40 + (MAP_LEGEND_ORDER.length + 4) * 22;
  const gridH = map.rows * cellH;
  return {
    width: LEFT + map.columns * cellW + 30 + LEGEND_W,
    height: Math.max(TOP + gridH + 50, TOP + legendH),
    gridX: LEFT,
    gridY: TOP,
    cellW,
    cellH,
  };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function bytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) (v /= 1024), i++;
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${u[i]}`;
}

/** The SVG text. */
export function renderMapSvg(map: MemoryMap): string {
  const g = mapGeometry(map);
  const out: string[] = [];
  const ps = map.pageSize;
  const cellBytes = map.pagesPerCell * ps;
  const rowBytes = cellBytes * map.columns;
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${g.width}" height="${g.height}" viewBox="0 0 ${g.width} ${g.height}" font-family="DejaVu Sans, Arial, sans-serif">`,
  );
  out.push(`<title>Physical memory of ${esc(map.source)}</title>`);
  out.push(
    `<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse"><path d="M0,6 L6,0 M-1,1 L1,-1 M5,7 L7,5" stroke="#000000" stroke-width="1.2" stroke-opacity="0.55"/></pattern></defs>`,
  );
  out.push(`<rect x="0" y="0" width="${g.width}" height="${g.height}" fill="#ffffff"/>`);
  out.push(
    `<text x="${LEFT}" y="28" font-size="18" font-weight="bold">Physical memory of Linux ${esc(map.release ?? '(unknown release)')}</text>`,
  );
  out.push(
    `<text x="${LEFT}" y="48" font-size="12" fill="#333333">${esc(map.source)}: ${map.maxMapnr} pages (${bytes(map.maxMapnr * ps)}); one cell = ${map.pagesPerCell} page${map.pagesPerCell > 1 ? 's' : ''} (${bytes(cellBytes)}), one row = ${bytes(rowBytes)}; colour = the class most of a cell's pages have</text>`,
  );

  // top axis: offsets within a row
  const tickEvery = Math.max(1, Math.round(map.columns / 4));
  out.push(`<g font-size="10" font-family="DejaVu Sans Mono, monospace" fill="#333333">`);
  for (let c = 0; c <= map.columns; c += tickEvery) {
    const x = g.gridX + c * g.cellW;
    out.push(`<line x1="${x}" y1="${g.gridY - 6}" x2="${x}" y2="${g.gridY}" stroke="#333333" shape-rendering="crispEdges"/>`);
    out.push(`<text x="${x}" y="${g.gridY - 9}" text-anchor="middle">+0x${(c * cellBytes).toString(16)}</text>`);
  }
  // left axis: physical address of each labelled row
  let labelEvery = 1;
  while (labelEvery * g.cellH < 16) labelEvery *= 2;
  for (let r = 0; r < map.rows; r += labelEvery) {
    const y = g.gridY + r * g.cellH;
    out.push(`<line x1="${g.gridX - 5}" y1="${y}" x2="${g.gridX}" y2="${y}" stroke="#333333" shape-rendering="crispEdges"/>`);
    out.push(`<text x="${g.gridX - 8}" y="${y + 4}" text-anchor="end">0x${(r * rowBytes).toString(16).padStart(9, '0')}</text>`);
  }
  out.push(`</g>`);
  out.push(
    `<text x="${16}" y="${g.gridY + (map.rows * g.cellH) / 2}" font-size="11" fill="#333333" transform="rotate(-90 16 ${g.gridY + (map.rows * g.cellH) / 2})" text-anchor="middle">physical address</text>`,
  );

  // the grid: one rectangle per run of equal cells in a row
  const excluded = new Set(map.excluded);
  const hatchRuns: string[] = [];
  out.push(`<g shape-rendering="crispEdges">`);
  for (let r = 0; r < map.rows; r++) {
    let c = 0;
    while (c < map.columns) {
      const k = map.cells[r * map.columns + c]!;
      let e = c + 1;
      while (e < map.columns && map.cells[r * map.columns + e] === k) e++;
      if (k !== 255) {
        const name = MAP_CLASS_NAMES[k]!;
        const rect = `x="${g.gridX + c * g.cellW}" y="${g.gridY + r * g.cellH}" width="${(e - c) * g.cellW}" height="${g.cellH}"`;
        out.push(`<rect ${rect} fill="${MAP_COLOURS[name]}"/>`);
        if (excluded.has(name)) hatchRuns.push(`<rect ${rect} fill="url(#hatch)"/>`);
      }
      c = e;
    }
  }
  out.push(...hatchRuns);
  out.push(`</g>`);
  out.push(
    `<rect x="${g.gridX - 0.5}" y="${g.gridY - 0.5}" width="${map.columns * g.cellW + 1}" height="${map.rows * g.cellH + 1}" fill="none" stroke="#444444" stroke-width="1"/>`,
  );

  // legend
  const lx = g.gridX + map.columns * g.cellW + 30;
  let ly = g.gridY;
  out.push(`<g font-size="12">`);
  out.push(`<text x="${lx}" y="${ly + 4}" font-weight="bold">Page classes</text>`);
  ly += 18;
  const total = map.maxMapnr;
  for (const name of MAP_LEGEND_ORDER) {
    const n = map.pages[name];
    if (n === 0 && !(name === 'zero' && map.zeroDetected)) continue;
    out.push(`<rect x="${lx}" y="${ly}" width="16" height="16" fill="${MAP_COLOURS[name]}" stroke="#444444" stroke-width="0.5"/>`);
    if (excluded.has(name)) out.push(`<rect x="${lx}" y="${ly}" width="16" height="16" fill="url(#hatch)"/>`);
    const pct = total ? ((100 * n) / total).toFixed(1) : '0.0';
    out.push(`<text x="${lx + 24}" y="${ly + 12}">${esc(MAP_LABELS[name])}</text>`);
    out.push(`<text x="${lx + LEGEND_W - 10}" y="${ly + 12}" text-anchor="end" font-family="DejaVu Sans Mono, monospace" font-size="11">${n} (${pct}%)</text>`);
    ly += 22;
  }
  ly += 8;
  out.push(`<text x="${lx}" y="${ly + 4}" font-size="11" fill="#333333">pages per class (share of ${total})</text>`);
  if (map.dumpLevel !== null) {
    ly += 20;
    out.push(`<rect x="${lx}" y="${ly - 8}" width="16" height="16" fill="#ffffff" stroke="#444444" stroke-width="0.5"/>`);
    out.push(`<rect x="${lx}" y="${ly - 8}" width="16" height="16" fill="url(#hatch)"/>`);
    out.push(`<text x="${lx + 24}" y="${ly + 4}" font-size="11">hatched: excluded at dump level ${map.dumpLevel}</text>`);
  }
  if (!map.zeroDetected) {
    ly += 20;
    out.push(`<text x="${lx}" y="${ly + 4}" font-size="11" fill="#333333">zero pages not looked for (use --zero or -d with bit 1)</text>`);
  }
  out.push(`</g>`);
  out.push(`</svg>`);
  return out.join('\n') + '\n';
}

/** Classes drawn in the grid, with their cell counts (for tests and summaries). */
export function drawnClasses(map: MemoryMap): Array<{ name: MapClassName; cells: number }> {
  return MAP_CLASS_NAMES.filter((n) => map.cellsByClass[n] > 0).map((name) => ({ name, cells: map.cellsByClass[name] }));
}
