/** info and stats as a library, on simulator images: exact at --sample 1, facts of kdump outputs, VMCOREINFO overrides. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { simulate, type GroundTruth } from '../../src/sim/index.js';
import { filterDump } from '../../src/writer/pipeline.js';
import { openDump } from '../../src/formats/probe.js';
import { describeDumpFile, dumpStatsFile, readVmcoreinfoFile, zoneRanges, bitmapRuns } from '../../src/triage/index.js';
import { Bitmap } from '../../src/io/bitmap.js';
import { VmcoreError } from '../../src/errors.js';

let dir = '';
let img = '';
let truth: GroundTruth;
let viText = '';

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-triage-'));
  img = path.join(dir, 'a.img');
  truth = (await simulate(img, { memBytes: 64 * 2 ** 20, seed: 5 })).truth;
  const r = openDump(img);
  viText = r.vmcoreinfoText!;
  r.close();
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('ranges and zones', () => {
  it('bitmap runs and x86_64 zones', () => {
    const bm = new Bitmap(100);
    bm.setRange(3, 10);
    bm.setRange(20, 21);
    bm.setRange(90, 100);
    expect(bitmapRuns(bm)).toEqual({ ranges: [{ start: 3, end: 10 }, { start: 20, end: 21 }, { start: 90, end: 100 }], truncated: false });
    expect(bitmapRuns(bm, 2).truncated).toBe(true);
    expect(zoneRanges(4096, 2 ** 21)).toEqual([
      { name: 'DMA', start: 0, end: 4096 },
      { name: 'DMA32', start: 4096, end: 2 ** 20 },
      { name: 'Normal', start: 2 ** 20, end: 2 ** 21 },
    ]);
    expect(zoneRanges(4096, 1000)).toEqual([{ name: 'DMA', start: 0, end: 1000 }]);
  });
});

describe('stats', () => {
  it('with every page sampled, predicts the filter exactly (pages and bytes) for every level and codec', async () => {
    const s = dumpStatsFile(img, { sampleEvery: 1, dumpLevels: [11] });
    expect(s.levels.map((l) => l.level)).toEqual([0, 1, 11, 16, 31]);
    expect(s.sample.note).toMatch(/^bytes are exact/);
    const cases: [number, 'none' | 'zlib' | 'lzo' | 'zstd' | 'snappy'][] = [
      [16, 'none'],
      [31, 'lzo'],
      [1, 'zlib'],
      [11, 'zstd'],
      [0, 'snappy'],
    ];
    for (const [level, codec] of cases) {
      const out = path.join(dir, `s-${level}-${codec}.dump`);
      const rep = await filterDump(img, out, { dumpLevels: [level], format: 'kdump', codec: codec === 'none' ? undefined : codec, force: true });
      const l = s.levels.find((x) => x.level === level)!;
      expect(l.exact).toBe(true);
      expect(l.kept, `level ${level}`).toBe(rep.pages.remaining);
      expect(l.estimates.find((e) => e.codec === codec)!.bytes, `level ${level} ${codec}`).toBe(fs.statSync(out).size);
      if (level & 1) expect(l.zeroPages).toBe(rep.excluded.zero);
    }
  });
  it('per-class counts equal the ground truth; zones and ranges add up', () => {
    const s = dumpStatsFile(img);
    expect(s.sample.every).toBe(64);
    expect(s.sample.note).toMatch(/^bytes are estimates from a sample of \d+ pages \(1 stored page in 64\)$/);
    const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
    expect(sum(s.classes)).toBe(s.pages.present);
    expect(s.zones.reduce((a, z) => a + z.pages, 0)).toBe(s.pages.present);
    expect(s.ranges.reduce((a, z) => a + z.pages, 0)).toBe(s.pages.present);
    for (const z of s.zones) expect(sum(z.classes)).toBe(z.pages);
    expect(s.classes.hinted).toBe(truth.counts.hinted);
    expect(s.classes.offline).toBe(truth.counts.offline);
    // Estimates are close to the exact figure on this image (within 10 %).
    const exact = dumpStatsFile(img, { sampleEvery: 1 });
    for (const l of s.levels) {
      const e = exact.levels.find((x) => x.level === l.level)!;
      expect(l.dumpable).toBe(e.dumpable);
      for (const est of l.estimates) {
        const ex = e.estimates.find((x) => x.codec === est.codec)!;
        if (est.bytes !== null) expect(Math.abs(est.bytes - ex.bytes!) / ex.bytes!).toBeLessThan(0.1);
      }
    }
  });
});

describe('info', () => {
  it('an ELF image: PT_LOADs, kernel, encoding and every class decidable', () => {
    const i = describeDumpFile(img);
    expect(i.format).toBe('elf');
    expect(i.codec).toBeNull();
    expect(i.kernel.release).toBe('6.0.19-vmcore-filter-sim');
    expect(i.elf!.loads.length).toBeGreaterThan(0);
    expect(i.pageTypes).toMatchObject({ scheme: 'inverted', hintedEncodable: true, hintedValue: -385 });
    expect(Object.values(i.classes).every((c) => c.decidable)).toBe(true);
    expect(i.classes.offline.keys).toContain('NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)');
    expect(i.complete).toBe(true);
  });
  it('a kdump output: header fields, codec, dump level; a cut-off copy is incomplete', async () => {
    const out = path.join(dir, 'k.dump');
    await filterDump(img, out, { dumpLevels: [31], format: 'kdump', codec: 'lzo', force: true });
    const i = describeDumpFile(out);
    expect(i).toMatchObject({ format: 'kdump', codec: 'lzo', complete: true });
    expect(i.kdump).toMatchObject({ headerVersion: 6, blockSize: 4096, dumpLevel: 31, split: null, statusFlags: ['compressed_lzo'] });
    const cut = path.join(dir, 'cut.dump');
    const b = fs.readFileSync(out);
    fs.writeFileSync(cut, b.subarray(0, b.length - 5000));
    const c = describeDumpFile(cut);
    expect(c.complete).toBe(false);
    expect(c.incomplete).toEqual([expect.stringMatching(/^truncated: truncated input: \d+ of \d+ stored pages are not in .*cut\.dump \(from pfn 0x[0-9a-f]+; the file ends at 0x[0-9a-f]+\)/)]);
    // The pages still in the file are the ones `info` counts as stored.
    expect(c.memory.storedPages).toBeLessThan(i.memory.storedPages);
  });
  it('--vmcoreinfo: an older kernel without PAGE_OFFLINE_MAPCOUNT_VALUE cannot decide offline pages; hinted ones only by PG_reported', () => {
    const f = path.join(dir, 'old.vmcoreinfo');
    fs.writeFileSync(f, viText.split('\n').filter((l) => !l.startsWith('NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)')).join('\n'));
    const i = describeDumpFile(img, { vmcoreinfoOverride: readVmcoreinfoFile(f) });
    expect(i.vmcoreinfo.source).toBe('file');
    expect(i.classes.offline).toEqual({ decidable: false, keys: [], missing: 'NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE) not exported' });
    expect(i.pageTypes.hintedEncodable).toBe(false);
    // PG_reported (bit 2, from the 6.0 NUMBER(PG_*) layout) still decides hinted pages.
    expect(i.reported).toMatchObject({ bit: 2, by: 'vmcoreinfo', layouts: ['4.20-6.5'] });
    expect(i.classes.hinted.decidable).toBe(true);
    expect(i.classes.hinted.keys).toContain('NUMBER(PG_lru)');
    // Without a PG_lru export too, the bit is unknown and hinted pages cannot be told apart: named.
    fs.writeFileSync(f, viText.split('\n').filter((l) => !/^NUMBER\((PAGE_OFFLINE_MAPCOUNT_VALUE|PG_head_mask)\)/.test(l)).join('\n'));
    const u = describeDumpFile(img, { vmcoreinfoOverride: readVmcoreinfoFile(f) });
    expect(u.reported).toMatchObject({ bit: null, by: 'unknown', keys: ['NUMBER(PG_head_mask)'], description: 'PG_uptodate position unknown: NUMBER(PG_head_mask) not exported' });
    expect(u.classes.hinted.decidable).toBe(false);
    expect(u.classes.hinted.missing).toMatch(/PG_uptodate, whose position is unknown: NUMBER\(PG_head_mask\) not exported/);
    // --reported-bit decides hinted pages again.
    expect(describeDumpFile(img, { vmcoreinfoOverride: readVmcoreinfoFile(f), reportedBit: 2 }).classes.hinted).toEqual({ decidable: true, keys: ['--reported-bit 2'] });
  });
  it('a bad VMCOREINFO file is one error naming the file and the line', () => {
    const f = path.join(dir, 'bad.vmcoreinfo');
    fs.writeFileSync(f, 'OSRELEASE=6.0\nPAGESIZE=4096\nthis is not a key\n');
    expect(() => readVmcoreinfoFile(f)).toThrow(/--vmcoreinfo .*bad\.vmcoreinfo: VMCOREINFO line 3 is malformed/);
    fs.writeFileSync(f, 'OSRELEASE=6.0\nPAGESIZE=4096\nSIZE(page)=sixty-four\n');
    expect(() => readVmcoreinfoFile(f)).toThrow(/line 3: SIZE\(page\) has a non-numeric value/);
    try {
      readVmcoreinfoFile(path.join(dir, 'missing'));
    } catch (e) {
      expect((e as VmcoreError).code).toBe('E_INPUT_IO');
    }
  });
  it('the override is carried into the output: a dump without VMCOREINFO comes out analysable', async () => {
    const out = path.join(dir, 'ov.dump');
    await filterDump(img, out, { dumpLevels: [31], format: 'kdump', force: true, vmcoreinfoOverride: viText.replace('CRASHTIME=', 'X_NOTE=1\nCRASHTIME=') });
    const r = openDump(out);
    expect(r.vmcoreinfoText).toContain('X_NOTE=1');
    r.close();
  });
});
