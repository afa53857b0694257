/**
 * The memory map: binning rules on synthetic class arrays, the SVG's content, and the picture
 * as a person sees it — rendered by headless Chromium, its PNG decoded, and the colours of the
 * legend counted in the grid against the map's cells and the classifier's page counts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { PageClass } from '../../src/filter/classes.js';
import { Bitmap } from '../../src/io/bitmap.js';
import { classifyDump } from '../../src/filter/index.js';
import { openDump } from '../../src/formats/probe.js';
import { MAP_COLOURS, MAP_LEGEND_ORDER, MapBinner, ZERO_CLASS, buildMemoryMap, renderMapSvg } from '../../src/map/index.js';
import { mapGeometry } from '../../src/map/svg.js';
import { simulate } from '../../src/sim/index.js';
import { requirePeer } from '../helpers/peers.js';
import { decodePng } from './png.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-map-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const BIN = path.resolve('bin/vmcore-filter.js');

describe('binning', () => {
  it('pages per cell is the smallest power of two within the cell budget; the majority class wins', () => {
    const cls = new Uint8Array(100).fill(PageClass.free);
    cls.fill(PageClass.kernel, 0, 5); // cell 0: 5 kernel, 3 free
    cls.fill(PageClass.hole, 96, 100);
    const m = buildMemoryMap(cls, 100, { source: 'x', release: '6.0', maxCells: 16, columns: 4 });
    expect(m.pagesPerCell).toBe(8);
    expect(m.rows).toBe(4);
    expect(m.cells[0]).toBe(PageClass.kernel);
    expect(m.cells[1]).toBe(PageClass.free);
    expect(m.cells[12]).toBe(PageClass.hole); // pfns 96..99 only
    expect(m.cells[13]).toBe(255); // past max_mapnr
    expect(m.pages).toMatchObject({ kernel: 5, free: 91, hole: 4 });
    expect(m.cellsByClass).toMatchObject({ kernel: 1, free: 11, hole: 1 });
  });
  it('zero pages (when looked for) override the class; -d lists what it excludes', () => {
    const cls = new Uint8Array(64).fill(PageClass.kernel);
    const zero = new Uint8Array(64).fill(1, 0, 40);
    const m = buildMemoryMap(cls, 64, { source: 'x', release: null, maxCells: 64, zero, dumpLevel: 17 });
    expect(m.pagesPerCell).toBe(1);
    expect(m.pages.zero).toBe(40);
    expect(m.cells[0]).toBe(ZERO_CLASS);
    expect(m.excluded).toEqual(expect.arrayContaining(['free', 'hinted', 'offline', 'hwpoison', 'zero']));
    const svg = renderMapSvg(m);
    expect(svg).toContain('hatched: excluded at dump level 17');
    expect(svg).toContain('(unknown release)');
  });
});

describe('binning window by window (MapBinner)', () => {
  it('gives the whole-array picture whatever the windows: cells spanning windows, windows spanning cells, all-hole windows', () => {
    const runs = fc.array(fc.tuple(fc.nat(PageClass.kernel), fc.integer({ min: 1, max: 300 })), { minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(runs, fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 64 }), fc.boolean(), (rs, sizes, maxCells, withZero) => {
        const n = rs.reduce((a, [, l]) => a + l, 0);
        const cls = new Uint8Array(n);
        let at = 0;
        for (const [k, l] of rs) cls.fill(k, at, (at += l));
        const zero = withZero ? cls.map((k, i) => (k === PageClass.kernel && i % 3 === 0 ? 1 : 0)) : null;
        const opts = { source: 'x', release: null, maxCells, columns: 4, zero };
        const want = buildMemoryMap(cls, n, opts);
        // buildMemoryMap is a MapBinner fed one window: an oracle of its own, a histogram per
        // cell (pages per cell the smallest power of two within maxCells; ties to the lowest id).
        let ppc = 1;
        while (Math.ceil(n / ppc) > maxCells) ppc *= 2;
        const naive: number[] = [];
        for (let a = 0; a < n; a += ppc) {
          const hist = new Array<number>(ZERO_CLASS + 1).fill(0);
          for (let p = a; p < Math.min(n, a + ppc); p++) hist[zero && zero[p] ? ZERO_CLASS : cls[p]!]!++;
          naive.push(hist.indexOf(Math.max(...hist)));
        }
        expect(Array.from(want.cells.subarray(0, naive.length))).toEqual(naive);
        const b = new MapBinner(n, opts);
        for (let base = 0, i = 0; base < n; i++) {
          const end = Math.min(n, base + sizes[i % sizes.length]!);
          const part = cls.slice(base, end);
          // a window without a readable pfn is handed over as holes only (classes null)
          if (part.every((k) => k === PageClass.hole)) b.add(base, end, null);
          else {
            const z = zero ? new Bitmap(end - base) : null;
            if (zero) for (let p = base; p < end; p++) if (zero[p]) z!.set(p - base);
            b.add(base, end, part, z);
          }
          base = end;
        }
        const got = b.finish(opts, zero !== null);
        expect(Array.from(got.cells)).toEqual(Array.from(want.cells));
        expect(got.pages).toEqual(want.pages);
        expect(got.cellsByClass).toEqual(want.cellsByClass);
        expect(got.pagesPerCell).toBe(want.pagesPerCell);
      }),
    );
  });
  it('refuses pfns out of order, and a picture before the last pfn', () => {
    const b = new MapBinner(100, { maxCells: 16 });
    b.add(0, 50, null);
    expect(() => b.add(60, 100, null)).toThrow(/do not follow/);
    expect(() => b.finish({ source: 'x', release: null }, false)).toThrow(/were not added/);
  });
});

describe('picture of a simulated dump', () => {
  const img = path.join(dir, 'a.img');
  const svgPath = path.join(dir, 'map.svg');

  it('the CLI writes the SVG the library renders: title, axes, legend', async () => {
    await simulate(img, { seed: 7, memBytes: 160 << 20 });
    const r = spawnSync(process.execPath, [BIN, 'map', img, '-o', svgPath], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*map\.svg: 208×64 cells of 8 pages\n$/);
    const reader = openDump(img);
    const c = classifyDump(reader, { dumpLevel: 0, alwaysWalkFreeLists: true });
    const map = buildMemoryMap(c.classOf, c.maxMapnr, { source: 'a.img', release: reader.info.utsname.release, pageSize: 4096 });
    reader.close();
    const svg = fs.readFileSync(svgPath, 'utf8');
    expect(svg).toBe(renderMapSvg(map));
    expect(svg).toContain('Physical memory of Linux 6.0.19-vmcore-filter-sim');
    expect(svg).toContain('>0x000000000<');
    for (const n of MAP_LEGEND_ORDER) if (map.pages[n] > 0) expect(svg).toContain(`fill="${MAP_COLOURS[n]}"`);
    expect(svg).not.toMatch(/NaN|undefined/);
  });

  it('rendered by Chromium: every legend colour covers exactly its cells, in proportion to the page counts', () => {
    if (!requirePeer('chromium')) return;
    const reader = openDump(img);
    const c = classifyDump(reader, { dumpLevel: 0, alwaysWalkFreeLists: true });
    const map = buildMemoryMap(c.classOf, c.maxMapnr, { source: 'a.img', release: reader.info.utsname.release, pageSize: 4096 });
    reader.close();
    const g = mapGeometry(map);
    const png = path.join(dir, 'map.png');
    const profile = fs.mkdtempSync(path.join(dir, 'chromium-'));
    const r = spawnSync(
      '/usr/bin/chromium',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
        '--hide-scrollbars',
        '--force-device-scale-factor=1',
        `--screenshot=${png}`,
        `--window-size=${g.width},${g.height}`,
        `file://${svgPath}`,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(fs.existsSync(png), r.stderr).toBe(true);
    const pic = decodePng(fs.readFileSync(png));
    expect([pic.width, pic.height]).toEqual([g.width, g.height]);
    const rgb = (hex: string) => parseInt(hex.slice(1), 16);
    const byColour = new Map<number, number>();
    for (let y = g.gridY; y < g.gridY + map.rows * g.cellH; y++) {
      for (let x = g.gridX; x < g.gridX + map.columns * g.cellW; x++) {
        const o = (y * pic.width + x) * 4;
        const v = (pic.data[o]! << 16) | (pic.data[o + 1]! << 8) | pic.data[o + 2]!;
        byColour.set(v, (byColour.get(v) ?? 0) + 1);
      }
    }
    const cellPx = g.cellW * g.cellH;
    const gridPx = map.rows * map.columns * cellPx;
    for (const n of MAP_LEGEND_ORDER) {
      const px = byColour.get(rgb(MAP_COLOURS[n])) ?? 0;
      expect(px, n).toBe(map.cellsByClass[n] * cellPx);
      // the picture's share of a class is close to its share of pages (cells take the majority)
      if (map.pages[n] / map.maxMapnr > 0.05) expect(Math.abs(px / gridPx - map.pages[n] / map.maxMapnr), n).toBeLessThan(0.05);
    }
    // every drawn class also has its swatch in the legend, right of the grid
    const lx = g.gridX + map.columns * g.cellW + 30 + 8;
    const legend = new Set<number>();
    for (let y = g.gridY; y < g.height; y++) {
      const o = (y * pic.width + lx) * 4;
      legend.add((pic.data[o]! << 16) | (pic.data[o + 1]! << 8) | pic.data[o + 2]!);
    }
    for (const n of MAP_LEGEND_ORDER) if (map.cellsByClass[n] > 0 && n !== 'zero') expect(legend.has(rgb(MAP_COLOURS[n])), n).toBe(true);
    fs.copyFileSync(png, path.join(os.tmpdir(), 'vmcore-filter-map-test.png'));
  });

  it('-d 31 finds zero pages by content and hatches what it excludes; bad arguments are one line', () => {
    const out = path.join(dir, 'map31.svg');
    const r = spawnSync(process.execPath, [BIN, 'map', img, '-o', out, '-d', '31'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const svg = fs.readFileSync(out, 'utf8');
    expect(svg).toContain('url(#hatch)');
    expect(svg).toContain('zero-filled');
    expect(svg).toContain('hatched: excluded at dump level 31');
    const again = spawnSync(process.execPath, [BIN, 'map', img, '-o', out], { encoding: 'utf8' });
    expect(again.status).toBe(6);
    expect(again.stderr).toMatch(/^vmcore-filter: error: .*exists \(use -f to overwrite\)\n$/);
    const noOut = spawnSync(process.execPath, [BIN, 'map', img], { encoding: 'utf8' });
    expect(noOut.status).toBe(2);
    expect(noOut.stderr).toBe('vmcore-filter: error: map: give the SVG file to write with -o FILE (or --json)\n');
    const badD = spawnSync(process.execPath, [BIN, 'map', img, '-o', path.join(dir, 'x.svg'), '-d', '40'], { encoding: 'utf8' });
    expect(badD.status).toBe(2);
    expect(fs.existsSync(path.join(dir, 'x.svg'))).toBe(false);
  });
});
