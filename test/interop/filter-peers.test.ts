/**
 * The filter against the real tools, on simulator images: our kdump output read back by
 * libkdumpfile (bitmap = ground truth, every kept page byte-identical to the image), our bitmap
 * equal to makedumpfile 1.7.2's minus exactly the hinted pages it keeps, makedumpfile refiltering
 * our output, drgn opening it and crash reporting its release.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { simulate, truthClassArray, CLASS_CODE, type GroundTruth, type SimOptions } from '../../src/sim/index.js';
import { excludedClasses } from '../../src/filter/index.js';
import { PYTHON, requirePeer } from '../helpers/peers.js';
import { LINUX_6_0 } from '../../src/mm/profiles.js';

const BIN = path.resolve('bin/vmcore-filter.js');
const DUMPCHECK = path.resolve('test/interop/py/dumpcheck.py');

interface Scenario {
  name: string;
  opts: Partial<SimOptions>;
  /** `--reported-bit` to pass (none: the bit is decided from VMCOREINFO, as by default). */
  reportedBit?: number;
}
const SCENARIOS: Scenario[] = [
  { name: '4-level, 128M, seed 1', opts: { seed: 1, memBytes: 128 << 20 } },
  { name: '5-level + KASLR, 192M, seed 2', opts: { seed: 2, memBytes: 192 << 20, l5: true, kaslr: true } },
  // PG_reported blocks, no option: bit 2 (PG_uptodate) decided from the 6.0 NUMBER(PG_*) layout.
  { name: 'KASLR, pg-reported, no --reported-bit, 160M, seed 3', opts: { seed: 3, memBytes: 160 << 20, kaslr: true, hintedStyle: 'pg-reported' } },
];
const LEVELS = [0, 1, 16, 31];
/**
 * Whether we tell hinted pages apart in every scenario: BUDDY&OFFLINE (combined style) or
 * PG_reported with the bit decided from VMCOREINFO (pg-reported style, no option).
 */
const HINTED_KNOWN = true;

function run(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function dumpcheck(dump: string, image: string, dir: string): { bitmap: Uint8Array; res: { max_pfn: number; dumpable: number; identical: number; mismatches: number[]; unreadable: unknown[] } } {
  const bmPath = path.join(dir, path.basename(dump) + '.bitmap');
  const r = run(PYTHON, [DUMPCHECK, dump, image, bmPath]);
  expect(r.status, r.stderr).toBe(0);
  return { bitmap: new Uint8Array(fs.readFileSync(bmPath)), res: JSON.parse(r.stdout) };
}

const bit = (b: Uint8Array, p: number) => (b[p >>> 3]! >> (p & 7)) & 1;

/** Expected 2nd bitmap from the ground truth: present pages whose class the level keeps. */
function expectedBitmap(truth: GroundTruth, level: number, hintedKnown: boolean): (pfn: number) => number {
  const cls = truthClassArray(truth);
  const ex = excludedClasses(level);
  const drop = new Uint8Array(32);
  drop[CLASS_CODE.hole] = 1;
  for (const c of ['free', 'hinted', 'offline', 'hwpoison', 'cache', 'cache_private', 'user', 'hugetlb'] as const) {
    if (ex.has(c)) drop[CLASS_CODE[c]] = 1;
  }
  // Without the reported bit, a PG_reported free page is an ordinary buddy page to any decoder.
  if (!hintedKnown) drop[CLASS_CODE.hinted] = ex.has('free') ? 1 : 0;
  return (pfn) => (drop[cls[pfn]!] ? 0 : 1);
}

describe.each(SCENARIOS)('filter vs peers: $name', (sc) => {
  let dir = '';
  let image = '';
  let truth: GroundTruth;
  const hasPeers = requirePeer('kdumpfile') && requirePeer('makedumpfile');

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-peers-'));
    image = path.join(dir, 'vmcore.img');
    truth = (await simulate(image, sc.opts)).truth;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it.each(LEVELS)('-d %i: exact bitmap, byte-identical pages, makedumpfile bitmap minus hinted', (level) => {
    if (!hasPeers) return;
    const ours = path.join(dir, `ours-${level}.dump`);
    const args = [BIN, '-d', String(level), '--json', '-f', image, ours];
    if (sc.reportedBit !== undefined) args.push('--reported-bit', String(sc.reportedBit));
    const r = run(process.execPath, args);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.pages.excluded).toBe(truth.excludeByLevel[level]);

    const o = dumpcheck(ours, image, dir);
    expect(o.res.mismatches).toEqual([]);
    expect(o.res.unreadable).toEqual([]);
    expect(o.res.identical).toBe(o.res.dumpable);
    const want = expectedBitmap(truth, level, HINTED_KNOWN);
    const maxMapnr = truth.layout.maxMapnr;
    let wrong = 0;
    const firstWrong: number[] = [];
    for (let p = 0; p < maxMapnr; p++) {
      if (bit(o.bitmap, p) !== want(p)) {
        wrong++;
        if (firstWrong.length < 5) firstWrong.push(p);
      }
    }
    expect({ wrong, firstWrong }).toEqual({ wrong: 0, firstWrong: [] });

    // makedumpfile 1.7.2 on the same image: same bitmap except the hinted pages it keeps.
    const theirs = path.join(dir, `mdf-${level}.dump`);
    const m = run('/usr/bin/makedumpfile', ['-d', String(level), '--message-level', '1', '-f', image, theirs]);
    expect(m.status, m.stderr).toBe(0);
    const t = dumpcheck(theirs, image, dir);
    expect(t.res.mismatches).toEqual([]);
    const cls = truthClassArray(truth);
    const hinted = CLASS_CODE.hinted;
    let diff = 0;
    let hintedOnlyTheirs = 0;
    for (let p = 0; p < maxMapnr; p++) {
      const a = bit(o.bitmap, p);
      const b = bit(t.bitmap, p);
      if (a === b) continue;
      if (b === 1 && a === 0 && cls[p] === hinted) hintedOnlyTheirs++;
      else diff++;
    }
    expect(diff).toBe(0);
    // makedumpfile keeps -385 pages at every level; PG_reported pages it drops as free at bit 16.
    const theyDropHinted = truth.hintedStyle === 'pg-reported' && (level & 16) !== 0;
    expect(truth.counts.hinted).toBeGreaterThan(0);
    expect(hintedOnlyTheirs).toBe(HINTED_KNOWN && !theyDropHinted ? truth.counts.hinted : 0);
  });

  it.each([1, 16, 31])('-E -d %i: ELF output holds exactly the kept pages, byte-identical; makedumpfile and drgn read it', (level) => {
    if (!hasPeers || !requirePeer('drgn')) return;
    const ours = path.join(dir, `ours-${level}.elf`);
    const args = [BIN, '-E', '-d', String(level), '-f', image, ours];
    if (sc.reportedBit !== undefined) args.push('--reported-bit', String(sc.reportedBit));
    const r = run(process.execPath, args);
    expect(r.status, r.stderr).toBe(0);
    const o = dumpcheck(ours, image, dir);
    expect(o.res.mismatches).toEqual([]);
    expect(o.res.identical).toBe(o.res.dumpable);
    // ELF drops zero pages outright at bit 1 (no shared zero page as in kdump output).
    const cls = truthClassArray(truth);
    const kdumpWant = expectedBitmap(truth, level, HINTED_KNOWN);
    const want = (p: number) => (level & 1 && cls[p] === CLASS_CODE.zero ? 0 : kdumpWant(p));
    let wrong = 0;
    for (let p = 0; p < truth.layout.maxMapnr; p++) if (bit(o.bitmap, p) !== want(p)) wrong++;
    expect(wrong).toBe(0);
    const re = path.join(dir, `re-${level}.dump`);
    const m = run('/usr/bin/makedumpfile', ['-d', '31', '--message-level', '1', '-f', ours, re]);
    expect(m.status, m.stderr).toBe(0);
    const d = run(PYTHON, ['-c', 'import drgn,sys; p=drgn.Program(); p.set_core_dump(sys.argv[1]); print(p.flags)', ours]);
    expect(d.status, d.stderr).toBe(0);
  });

  it('makedumpfile refilters our dump, drgn opens it, crash reads its release', () => {
    if (!hasPeers || !requirePeer('drgn') || !requirePeer('crash')) return;
    const ours = path.join(dir, 'ours-c.dump');
    const r = run(process.execPath, [BIN, '-c', '-d', '1', '-f', image, ours]);
    expect(r.status, r.stderr).toBe(0);
    const re = path.join(dir, 're.dump');
    const m = run('/usr/bin/makedumpfile', ['-d', '31', '--message-level', '1', '-f', ours, re]);
    expect(m.status, m.stderr).toBe(0);
    const d = run(PYTHON, ['-c', 'import drgn,sys; p=drgn.Program(); p.set_core_dump(sys.argv[1]); print(p.flags)', ours]);
    expect(d.status, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/IS_LINUX_KERNEL/);
    const c = run('/usr/bin/crash', ['--osrelease', ours]);
    expect(c.stdout.trim()).toBe(LINUX_6_0.osrelease);
  });
});
