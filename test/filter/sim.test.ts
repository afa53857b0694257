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
        // The simulator's machines have no memory above their mem_map.
        const t = n === 'kernel' ? truth.counts.kernel + truth.counts.zero : n === 'no_struct_page' ? 0 : truth.counts[n];
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

describe('simulator image: other ways to decide', () => {
  it('finds the same free pages by walking the free lists when PAGE_BUDDY_MAPCOUNT_VALUE is hidden', async () => {
    const img = path.join(dir, 'freelists.vmcore');
    const { truth } = await simulate(img, { memBytes: 128 << 20, seed: 21, kaslr: true });
    const r = openDump(img);
    try {
      const hidden = r.vmcoreinfoText!.replace(/^NUMBER\(PAGE_BUDDY_MAPCOUNT_VALUE\)=.*\n/m, '');
      expect(hidden).not.toBe(r.vmcoreinfoText);
      const view: DumpReader = Object.create(r, { vmcoreinfoText: { value: hidden } });
      const c = classifyDump(view, { dumpLevel: 16 });
      expect(c.freePagesBy).toBe('free_lists');
      expect(c.warnings.filter((w) => /broken/.test(w))).toEqual([]);
      // Without the buddy value BUDDY&OFFLINE cannot be recognised: hinted blocks are plain free.
      expect(c.counts.free).toBe(truth.counts.free + truth.counts.hinted);
      expect(c.counts.hinted).toBe(0);
      expect(c.counts.offline).toBe(truth.counts.offline);
      expect(c.counts.user).toBe(truth.counts.user);
      expect(c.counts.unknown).toBe(0);
      // And at a level without bit 16 the lists are not walked: free is undecidable, pages kept.
      const c0 = classifyDump(view, { dumpLevel: 8 });
      expect(c0.decidable.free).toBe(false);
      expect(c0.counts.free).toBe(0);
    } finally {
      r.close();
    }
  });

  it('counts PG_reported blocks as hinted with no option (bit decided from VMCOREINFO), as free with --reported-bit none', async () => {
    const img = path.join(dir, 'reported.vmcore');
    const { truth } = await simulate(img, { memBytes: 128 << 20, seed: 22, hintedStyle: 'pg-reported' });
    const r = openDump(img);
    try {
      expect(truth.counts.hinted).toBeGreaterThan(0);
      const c = classifyDump(r, { dumpLevel: 31 });
      expect(c.counts.hinted).toBe(truth.counts.hinted);
      expect(c.counts.free).toBe(truth.counts.free);
      const none = classifyDump(r, { dumpLevel: 31, reportedBit: null });
      expect(none.counts.hinted).toBe(0);
      expect(none.counts.free).toBe(truth.counts.free + truth.counts.hinted);
    } finally {
      r.close();
    }
  });

  it('classifies a truncated image: missing pages are holes, nothing is dropped on a guess', async () => {
    const img = path.join(dir, 'trunc.vmcore');
    const { truth } = await simulate(img, { memBytes: 128 << 20, seed: 23 });
    const size = fs.statSync(img).size;
    const cut = 3 * 1024 * 1024 + 123;
    fs.truncateSync(img, size - cut);
    const r = openDump(img);
    try {
      type W = { code: string; firstMissingPfn?: number; missingPages?: number };
      const warnings = (r as unknown as { warnings: W[] }).warnings;
      const t = warnings.find((w) => w.code === 'truncated')!;
      expect(t.missingPages).toBe(Math.ceil(cut / 4096));
      const c = classifyDump(r, { dumpLevel: 31 });
      expect(c.counts.hole).toBe(truth.counts.hole + t.missingPages!);
      // The simulator keeps page tables at the top of RAM, which the cut removes: whatever can
      // no longer be decided is kept as unknown, with its reason; nothing gets another class.
      const want = truthClassArray(truth);
      let wrong = 0;
      for (let p = 0; p < t.firstMissingPfn!; p++) {
        let w = CLASSES[want[p]!]!;
        if (w === 'zero') w = 'kernel';
        const got = CLASS_NAMES[c.classOf[p]!];
        if (got !== w && got !== 'unknown') wrong++;
      }
      expect(wrong).toBe(0);
      const reasons = Object.values(c.reasons).reduce((a, b) => a + b, 0);
      expect(reasons).toBe(c.counts.unknown);
      expect(buildDumpableBitmap(c, 31).count()).toBeGreaterThanOrEqual(r.present.count() - (truth.excludeByLevel[30] ?? 0));
    } finally {
      r.close();
    }
  });
});
