/**
 * Integration: classify simulator images and compare with the simulator's ground truth, pfn by
 * pfn, and the excluded-page count at every dump level 0..31 (zero pages found by content, as
 * the writer does), over 4-/5-level paging, KASLR on/off and both hinted styles.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { simulate, truthClassArray, CLASSES, type SimOptions } from '../../src/sim/index.js';
import { openDump } from '../../src/formats/probe.js';
import { buildDumpableBitmap, classifyDump, excludedClasses, CLASS_NAMES, type PageClassName } from '../../src/filter/index.js';
import { LINUX_6_0 } from '../../src/mm/profiles.js';
import type { DumpReader } from '../../src/formats/dump.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'filter-sim-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Zero-filled present pages per class (what bit 1 would drop on top of the class policy). */
function zeroPagesByClass(r: DumpReader, classOf: Uint8Array): Record<PageClassName, number> {
  const out = Object.fromEntries(CLASS_NAMES.map((n) => [n, 0])) as Record<PageClassName, number>;
  const batch = 1024;
  const buf = Buffer.alloc(batch * 4096);
  const zero = Buffer.alloc(4096);
  for (let start = 0; start < r.maxMapnr; start += batch) {
    const n = Math.min(batch, r.maxMapnr - start);
    let p = start;
    while (p < start + n) {
      if (!r.present.get(p)) {
        p++;
        continue;
      }
      const end = Math.min(start + n, r.present.nextClear(p));
      r.readPages(p, end - p, buf);
      for (let q = p; q < end; q++) {
        if (buf.compare(zero, 0, 4096, (q - p) * 4096, (q - p + 1) * 4096) === 0) out[CLASS_NAMES[classOf[q]!]!]++;
      }
      p = end;
    }
  }
  return out;
}

const cases: [string, Partial<SimOptions>][] = [
  ['4-level', { seed: 11 }],
  ['4-level kaslr', { seed: 12, kaslr: true }],
  ['5-level', { seed: 13, l5: true }],
  ['5-level kaslr', { seed: 14, l5: true, kaslr: true }],
  ['pg-reported hinting', { seed: 15, kaslr: true, hintedStyle: 'pg-reported' }],
  ['zeroed free pages', { seed: 16, freeContent: 'zero' }],
];

describe.each(cases)('simulator image: %s', (_name, sim) => {
  it('matches the ground truth pfn by pfn and at every dump level', async () => {
    const img = path.join(dir, `${_name.replace(/\W+/g, '-')}.vmcore`);
    const { truth } = await simulate(img, { memBytes: 128 << 20, ...sim });
    const r = openDump(img);
    try {
      expect(r.maxMapnr).toBe(truth.layout.maxMapnr);
      const reportedBit = sim.hintedStyle === 'pg-reported' ? LINUX_6_0.otherFlags.uptodate : undefined;
      const c = classifyDump(r, { dumpLevel: 31, reportedBit });
      expect(c.reasons).toEqual({});
      expect(c.counts.unknown).toBe(0);

      // Pfn by pfn: the simulator's 'zero' class is kernel memory that happens to be zero.
      const want = truthClassArray(truth);
      const mismatches: string[] = [];
      for (let p = 0; p < r.maxMapnr && mismatches.length < 10; p++) {
        let w = CLASSES[want[p]!]!;
        if (w === 'zero') w = 'kernel';
        const got = CLASS_NAMES[c.classOf[p]!]!;
        if (w !== got) mismatches.push(`pfn ${p}: truth ${w}, got ${got}`);
      }
      expect(mismatches).toEqual([]);
      for (const n of CLASS_NAMES) {
        if (n === 'unknown') continue;
        const t = n === 'kernel' ? truth.counts.kernel + truth.counts.zero : truth.counts[n];
        expect(c.counts[n], n).toBe(t);
      }

      // Every level: class policy + zero pages among the kept ones.
      const zeros = zeroPagesByClass(r, c.classOf);
      const present = r.present.count();
      const got: number[] = [];
      for (let level = 0; level <= 31; level++) {
        const ex = excludedClasses(level);
        let excluded = 0;
        for (const n of ex) excluded += c.counts[n];
        const bm = buildDumpableBitmap(c, level);
        expect(bm.count()).toBe(present - excluded);
        if (level & 1) for (const n of CLASS_NAMES) if (n !== 'hole' && !ex.has(n)) excluded += zeros[n];
        got.push(excluded);
      }
      expect(got).toEqual(truth.excludeByLevel);
    } finally {
      r.close();
    }
  });
});
