/**
 * A pfn space of 2^34 filtered in bounded memory, exact against the ground truth. The input is
 * `sim --mem 64M --high-mem 64M@60T`: 64 MiB of boot RAM and 64 MiB of RAM at physical 60 TiB
 * that is real memory to the simulated kernel (a present mem_section with vmemmap struct pages,
 * ZONE_NORMAL, on the buddy allocator's free lists; the workload allocates there first), so
 * max_mapnr is (60 TiB + 64 MiB) / 4 KiB, about 2^34, 481 windows of the default
 * --cyclic-buffer. Free pages are zero (--free-content zero), so the ELF image is sparse.
 *
 * Checked at -d 31, kdump and ELF output: peak RSS of the filter (/usr/bin/time), the report's
 * per-class counts against truth.json, the kept pfn set against the truth's, pfns at 60 TiB
 * included (kdump: read back through libkdumpfile, test/interop/py/keptruns.py; ELF: its
 * PT_LOADs), every kept page byte-equal to the image, and makedumpfile 1.7.2 reading the ELF
 * dump (--dump-dmesg). The triage commands (info, stats, map --json) run in the same bounded
 * memory, their counts against the truth. makedumpfile reads the kdump dump too, but slowly: `--dump-dmesg` takes
 * 60-70 s and a refilter `-d 31` 212 s on this machine (it walks both 2 GiB bitmaps), so that is
 * measured once in the README, not here.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { excludedClasses } from '../../src/filter/index.js';
import { CLASSES, type GroundTruth, type PageClass, type Run } from '../../src/sim/index.js';
import { PYTHON, requirePeer } from '../helpers/peers.js';

const BIN = path.resolve(__dirname, '../../bin/vmcore-filter.js');
const KEPTRUNS = path.resolve(__dirname, '../interop/py/keptruns.py');
const PAGE = 4096;
const HIGH = 60 * 2 ** 40;
const HIGH_BYTES = 64 * 2 ** 20;
const HIGH_PFN = HIGH / PAGE;
const RSS_LIMIT_KIB = 160 * 1024;
/** The default --cyclic-buffer (4096 KiB) is a window of 2^25 pfns. */
const DEFAULT_WINDOW_PFNS = 2 ** 25;
const LEVEL = 31;

interface Load {
  paddr: number;
  filesz: number;
  offset: number;
}

/** The PT_LOADs of an ELF64 file (its e_phnum < 0xffff here). */
function elfLoads(fd: number): Load[] {
  const eh = Buffer.alloc(64);
  fs.readSync(fd, eh, 0, 64, 0);
  const phoff = Number(eh.readBigUInt64LE(32));
  const phnum = eh.readUInt16LE(56);
  const ph = Buffer.alloc(phnum * 56);
  fs.readSync(fd, ph, 0, ph.length, phoff);
  const out: Load[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = i * 56;
    if (ph.readUInt32LE(o) !== 1) continue;
    out.push({ offset: Number(ph.readBigUInt64LE(o + 8)), paddr: Number(ph.readBigUInt64LE(o + 24)), filesz: Number(ph.readBigUInt64LE(o + 32)) });
  }
  return out;
}

/** Page `pfn` of an ELF file (first PT_LOAD holding it), or null. */
function elfPage(fd: number, loads: Load[], pfn: number): Buffer | null {
  const pa = pfn * PAGE;
  const l = loads.find((x) => x.paddr <= pa && pa + PAGE <= x.paddr + x.filesz);
  if (!l) return null;
  const b = Buffer.alloc(PAGE);
  fs.readSync(fd, b, 0, PAGE, l.offset + pa - l.paddr);
  return b;
}

/** Pfn runs of the union of the PT_LOADs (a load whose pages were all excluded has filesz 0). */
function loadRuns(loads: Load[]): Run[] {
  return mergeRuns(loads.filter((l) => l.filesz > 0).map((l) => [l.paddr / PAGE, l.filesz / PAGE] as Run));
}

function mergeRuns(runs: Run[]): Run[] {
  const all = runs.map(([s, n]) => [s, n] as Run).sort((a, b) => a[0] - b[0]);
  const out: Run[] = [];
  for (const [s, n] of all) {
    const last = out[out.length - 1];
    if (last && last[0] + last[1] >= s) last[1] = Math.max(last[1], s + n - last[0]);
    else out.push([s, n]);
  }
  return out;
}

function timed(cmd: string, args: string[]): { status: number | null; rssKiB: number; seconds: number; stdout: string; stderr: string } {
  const tf = path.join(os.tmpdir(), `vmcf-time-${process.pid}`);
  const r = spawnSync('/usr/bin/time', ['-f', '%M %e', '-o', tf, cmd, ...args], { encoding: 'utf8', timeout: 300_000, maxBuffer: 64 << 20 });
  const [rss, secs] = fs.readFileSync(tf, 'utf8').trim().split('\n').pop()!.split(' ');
  fs.rmSync(tf, { force: true });
  return { status: r.status, rssKiB: Number(rss), seconds: Number(secs), stdout: r.stdout, stderr: r.stderr };
}

/** Runs of the pfns whose class `keep` accepts, merged, ascending. */
function keptRuns(truth: GroundTruth, keep: (c: PageClass) => boolean): Run[] {
  return mergeRuns(CLASSES.filter(keep).flatMap((c) => truth.runs[c]));
}

/** The classes a level keeps in the page bitmap (zero pages stay there, written once and shared, as makedumpfile does). */
function bitmapClasses(level: number): (c: PageClass) => boolean {
  const ex = excludedClasses(level);
  const dropped = new Set<PageClass>(['hole', 'unaccepted']);
  for (const c of ['free', 'hinted', 'offline', 'hwpoison', 'cache', 'cache_private', 'user', 'hugetlb'] as const) if (ex.has(c)) dropped.add(c);
  return (c) => !dropped.has(c);
}

/** The report's counts against the truth (the filter counts all-zero kernel pages as kernel: its zero test is by content). */
function expectCounts(rep: { pages: Record<string, number>; classes: Record<string, number> }, truth: GroundTruth, level: number): void {
  expect(rep.pages.total).toBe(truth.layout.maxMapnr);
  for (const c of CLASSES) {
    if (c === 'hole' || c === 'zero' || c === 'unaccepted') continue;
    expect(rep.classes[c], c).toBe(c === 'kernel' ? truth.counts.kernel + truth.counts.zero : truth.counts[c]);
  }
  expect(rep.classes.unknown).toBe(0);
  expect(rep.classes.no_struct_page).toBe(0);
  expect(rep.pages.hole).toBe(truth.counts.hole);
  expect(rep.pages.excluded).toBe(truth.excludeByLevel[level]);
}

/** Pages per class at pfns ≥ `from`. */
function countsFrom(truth: GroundTruth, from: number): Partial<Record<PageClass, number>> {
  const out: Partial<Record<PageClass, number>> = {};
  for (const c of CLASSES) {
    for (const [s, n] of truth.runs[c]) {
      const a = Math.max(s, from);
      if (a < s + n && c !== 'hole') out[c] = (out[c] ?? 0) + s + n - a;
    }
  }
  return out;
}

describe('max_mapnr 2^34: sim --high-mem 64M@60T', () => {
  let dir = '';
  let image = '';
  let truth: GroundTruth;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmcf-huge-'));
    image = path.join(dir, 'high.elf');
    const r = timed(process.execPath, [BIN, 'sim', '--mem', '64M', '--high-mem', `${HIGH_BYTES / 2 ** 20}M@60T`, '--free-content', 'zero', image]);
    expect(r.status, r.stderr).toBe(0);
    console.log(`sim: ${r.seconds} s, peak RSS ${r.rssKiB} KiB`);
    truth = JSON.parse(fs.readFileSync(`${image}.truth.json`, 'utf8'));
  }, 120_000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the truth covers the high range: every pfn there in a class, several classes', () => {
    expect(truth.layout.maxMapnr).toBe((HIGH + HIGH_BYTES) / PAGE);
    expect(truth.layout.ram[truth.layout.ram.length - 1]).toEqual({ start: HIGH, end: HIGH + HIGH_BYTES });
    const high = countsFrom(truth, HIGH_PFN);
    console.log('classes at 60 TiB:', JSON.stringify(high));
    expect(Object.values(high).reduce((a, b) => a + b, 0)).toBe(HIGH_BYTES / PAGE);
    for (const c of ['free', 'hinted', 'user', 'cache', 'slab', 'kernel'] as const) expect(high[c], c).toBeGreaterThan(0);
    // zero free pages are holes of the ELF file
    const st = fs.statSync(image);
    console.log(`image: ${st.size} bytes, ${st.blocks * 512} on disk`);
    expect(st.blocks * 512).toBeLessThan(st.size - 16 * 2 ** 20);
  });

  it(`-d ${LEVEL} into kdump within ${RSS_LIMIT_KIB / 1024} MiB: exact against the truth, every kept page read back through libkdumpfile`, () => {
    const hasPeer = requirePeer('kdumpfile');
    const out = path.join(dir, 'high.kdump');
    const f = timed(process.execPath, [BIN, '-d', String(LEVEL), '--json', image, out]);
    expect(f.status, f.stderr).toBe(0);
    console.log(`filter -d ${LEVEL} (kdump): ${f.seconds} s, peak RSS ${f.rssKiB} KiB`);
    const rep = JSON.parse(f.stdout);
    // far past one window of the default --cyclic-buffer: the windowed path ran (481 windows)
    expect(Math.ceil(rep.pages.total / DEFAULT_WINDOW_PFNS)).toBe(481);
    expectCounts(rep, truth, LEVEL);
    expect(f.rssKiB).toBeLessThanOrEqual(RSS_LIMIT_KIB);
    // The triage commands read its two 2 GiB bitmaps through the reader's pfn sets, never whole.
    for (const cmd of ['info', 'stats', 'map']) {
      const t = timed(process.execPath, [BIN, cmd, '--json', out]);
      expect(t.status, t.stderr).toBe(0);
      console.log(`${cmd} --json of the kdump dump: ${t.seconds} s, peak RSS ${t.rssKiB} KiB`);
      expect(t.rssKiB).toBeLessThanOrEqual(RSS_LIMIT_KIB);
      const j = JSON.parse(t.stdout);
      const kept = cmd === 'info' ? j.memory.storedPages : cmd === 'stats' ? j.pages.stored : j.maxMapnr - j.pages.hole;
      // zero pages stay in its page bitmap (written once, shared)
      expect(kept, cmd).toBe(rep.pages.remaining + rep.excluded.zero);
    }
    if (!hasPeer) return;
    const want = keptRuns(truth, bitmapClasses(LEVEL));
    const k = timed(PYTHON, [KEPTRUNS, out, image]);
    expect(k.status, k.stderr).toBe(0);
    console.log(`libkdumpfile read-back: ${k.seconds} s`);
    const got = JSON.parse(k.stdout) as { max_pfn: number; runs: Run[]; kept: number; identical: number; mismatches: number[]; unreadable: unknown[] };
    expect(got.max_pfn).toBe(truth.layout.maxMapnr);
    expect(got.runs).toEqual(want);
    expect(got.runs.some(([s]) => s >= HIGH_PFN)).toBe(true);
    expect(got.mismatches).toEqual([]);
    expect(got.unreadable).toEqual([]);
    expect(got.identical).toBe(got.kept);
    // Its two bitmaps are max_mapnr / 8 = 2 GiB each, mostly all-zero chunks left as holes.
    const st = fs.statSync(out);
    expect(st.size).toBeGreaterThan((2 * truth.layout.maxMapnr) / 8);
    expect(st.blocks * 512).toBeLessThan(256 * 2 ** 20);
    fs.rmSync(out);
  }, 600_000);

  it.each([['-c'], ['-l']])(`-d ${LEVEL} %s into kdump (compression workers) within ${RSS_LIMIT_KIB / 1024} MiB, the same counts`, (codec) => {
    const out = path.join(dir, `high${codec}.kdump`);
    const f = timed(process.execPath, [BIN, '-d', String(LEVEL), codec, '--json', image, out]);
    expect(f.status, f.stderr).toBe(0);
    console.log(`filter -d ${LEVEL} ${codec}: ${f.seconds} s, peak RSS ${f.rssKiB} KiB`);
    expectCounts(JSON.parse(f.stdout), truth, LEVEL);
    expect(f.rssKiB).toBeLessThanOrEqual(RSS_LIMIT_KIB);
    fs.rmSync(out);
  });

  // The triage commands walk the same windows as the filter: a window of classes and the
  // readers' pfn sets, no max_mapnr-byte class array or whole bitmap (which stopped them with
  // exit 4, E_LIMIT, before).
  const triage = (args: string[]) => {
    const r = timed(process.execPath, [BIN, ...args, image]);
    expect(r.status, r.stderr).toBe(0);
    console.log(`${args.join(' ')}: ${r.seconds} s, peak RSS ${r.rssKiB} KiB`);
    expect(r.rssKiB).toBeLessThanOrEqual(RSS_LIMIT_KIB);
    return JSON.parse(r.stdout);
  };
  /** The truth's counts as the classifier sees them: all-zero kernel pages are kernel pages (zero is by content). */
  const truthClasses = (counts: Partial<Record<PageClass, number>>) => {
    const out: Record<string, number> = {};
    for (const c of CLASSES) if (c !== 'hole' && c !== 'zero' && c !== 'unaccepted') out[c] = c === 'kernel' ? (counts.kernel ?? 0) + (counts.zero ?? 0) : (counts[c] ?? 0);
    return out;
  };

  it(`info --json within ${RSS_LIMIT_KIB / 1024} MiB: the memory ranges (60 TiB included) and hinted pages of the truth`, () => {
    const info = triage(['info', '--json']);
    expect(info.memory.maxMapnr).toBe(truth.layout.maxMapnr);
    expect(info.memory.holePages).toBe(truth.counts.hole);
    expect(info.memory.presentPages).toBe(truth.layout.maxMapnr - truth.counts.hole);
    expect(info.memory.storedPages).toBe(info.memory.presentPages);
    expect(info.memory.ranges.at(-1)).toMatchObject({ startPfn: HIGH_PFN, endPfn: HIGH_PFN + HIGH_BYTES / PAGE });
    expect(info.hinted.pages).toBe(truth.counts.hinted);
    expect(info.complete).toBe(true);
    for (const c of ['free', 'hinted', 'user', 'cache', 'slab'] as const) expect(info.classes[c].decidable, c).toBe(true);
  });

  it(`stats --json within ${RSS_LIMIT_KIB / 1024} MiB: class counts, per zone and per range, equal to the truth`, () => {
    const st = triage(['stats', '--json']);
    expect(st.pages).toEqual({ total: truth.layout.maxMapnr, hole: truth.counts.hole, present: truth.layout.maxMapnr - truth.counts.hole, stored: truth.layout.maxMapnr - truth.counts.hole });
    const want = truthClasses(truth.counts);
    for (const [c, n] of Object.entries(want)) expect(st.classes[c], c).toBe(n);
    expect(st.classes.unknown).toBe(0);
    // ZONE_NORMAL (from 4 GiB) and the last range are the RAM at 60 TiB: counted in its window
    const high = truthClasses(countsFrom(truth, HIGH_PFN));
    const normal = st.zones.find((z: { name: string }) => z.name === 'Normal');
    const last = st.ranges.at(-1);
    for (const [c, n] of Object.entries(high)) {
      expect(normal.classes[c], `Normal ${c}`).toBe(n);
      expect(last.classes[c], `range ${c}`).toBe(n);
    }
    expect(last.startPfn).toBe(HIGH_PFN);
    // the sample (one stored page in 64, in pfn order) reached the high range's pages too
    expect(st.sample.pages).toBe(Math.ceil(st.pages.stored / 64));
    const l31 = st.levels.find((l: { level: number }) => l.level === LEVEL);
    expect(l31.dumpable).toBe(st.pages.present - truth.excludeByLevel[LEVEL]! + truth.counts.zero);
  });

  it(`map --json and map -d ${LEVEL} --json (zero pages read) within ${RSS_LIMIT_KIB / 1024} MiB: pages per class equal to the truth`, () => {
    const m = triage(['map', '--json']);
    expect(m.maxMapnr).toBe(truth.layout.maxMapnr);
    expect(m.pagesPerCell).toBe(2 ** 20);
    expect(m.pages.hole).toBe(truth.counts.hole);
    for (const [c, n] of Object.entries(truthClasses(truth.counts))) expect(m.pages[c], c).toBe(n);
    const z = triage(['map', '-d', String(LEVEL), '--json']);
    expect(z.zeroDetected).toBe(true);
    expect(z.pages.zero).toBe(truth.counts.zero);
    expect(z.pages.kernel).toBe(truth.counts.kernel);
  });

  it(`-d ${LEVEL} into ELF within ${RSS_LIMIT_KIB / 1024} MiB: its PT_LOADs are the truth's kept pages, byte-equal to the image; makedumpfile reads it`, () => {
    const out = path.join(dir, 'high.out.elf');
    const f = timed(process.execPath, [BIN, '-d', String(LEVEL), '-E', '--json', image, out]);
    expect(f.status, f.stderr).toBe(0);
    console.log(`filter -d ${LEVEL} -E: ${f.seconds} s, peak RSS ${f.rssKiB} KiB`);
    expectCounts(JSON.parse(f.stdout), truth, LEVEL);
    expect(f.rssKiB).toBeLessThanOrEqual(RSS_LIMIT_KIB);
    // ELF output leaves zero pages out (no shared zero page): the kept classes minus 'zero'
    const keep = bitmapClasses(LEVEL);
    const want = keptRuns(truth, (c) => keep(c) && c !== 'zero');
    const ofd = fs.openSync(out, 'r');
    const ifd = fs.openSync(image, 'r');
    try {
      const outLoads = elfLoads(ofd);
      const inLoads = elfLoads(ifd);
      expect(loadRuns(outLoads)).toEqual(want);
      expect(want.some(([s]) => s >= HIGH_PFN)).toBe(true);
      let compared = 0;
      for (const [s, n] of want) {
        for (let p = s; p < s + n; p++) {
          const a = elfPage(ofd, outLoads, p);
          if (!a || !a.equals(elfPage(ifd, inLoads, p)!)) expect.fail(`pfn ${p}: the ELF dump's page differs from the image's`);
          compared++;
        }
      }
      expect(compared).toBe(truth.counts.kernel + truth.counts.slab);
    } finally {
      fs.closeSync(ofd);
      fs.closeSync(ifd);
    }
    if (!requirePeer('makedumpfile')) return;
    const m = timed('/usr/bin/makedumpfile', ['--dump-dmesg', out, path.join(dir, 'dmesg.txt')]);
    expect(m.status, m.stderr + m.stdout).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'dmesg.txt'), 'utf8')).toMatch(/Kdump: loaded/);
  }, 600_000);
});
