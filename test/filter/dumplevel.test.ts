import { describe, expect, it } from 'vitest';
import { BufferSource } from '../../src/io/file.js';
import { openElfDump } from '../../src/formats/elf/reader.js';
import { buildDumpableBitmap, classifyDump, excludedClasses, excludedCounts, CLASS_NAMES, type PageClassName } from '../../src/filter/index.js';
import { Synth } from './synth.js';

describe('dump levels', () => {
  it('maps makedumpfile bits to classes; offline, hinted, hwpoison at every level', () => {
    expect([...excludedClasses(0)].sort()).toEqual(['hinted', 'hwpoison', 'no_struct_page', 'offline']);
    expect(excludedClasses(1).has('free')).toBe(false);
    expect(excludedClasses(2).has('cache')).toBe(true);
    expect(excludedClasses(2).has('cache_private')).toBe(false);
    expect(excludedClasses(4).has('cache_private')).toBe(true);
    expect(excludedClasses(4).has('cache')).toBe(true);
    expect(excludedClasses(8).has('user')).toBe(true);
    expect(excludedClasses(8).has('hugetlb')).toBe(true);
    expect(excludedClasses(16).has('free')).toBe(true);
    for (let l = 0; l <= 31; l++) {
      const ex = excludedClasses(l);
      for (const never of ['kernel', 'slab', 'unknown', 'hole'] as PageClassName[]) expect(ex.has(never)).toBe(false);
    }
    expect(() => excludedClasses(32)).toThrow(/Dump_level\(32\) is invalid/);
    expect(() => excludedClasses(-1)).toThrow();
  });

  it('builds the 2nd bitmap from classes at every level', () => {
    const s = new Synth({ ram: [[0, 16 << 20], [20 << 20, 32 << 20]] });
    s.buddy(1024, 3);
    s.buddy(1040, 1, { hinted: true });
    s.offline(1050);
    s.hwpoison(1051);
    s.anon(1052);
    s.cache(1053);
    s.cache(1054, true);
    s.compound(1536, 9, 'hugetlb');
    s.slab(1055);
    const r = openElfDump(new BufferSource(s.elf()));
    const c = classifyDump(r, { dumpLevel: 31 });
    for (let level = 0; level <= 31; level++) {
      const bm = buildDumpableBitmap(c, level);
      const ex = excludedClasses(level);
      let mismatches = 0;
      for (let p = 0; p < c.maxMapnr; p++) {
        const cls = CLASS_NAMES[c.classOf[p]!]!;
        const want = cls !== 'hole' && !ex.has(cls);
        if (bm.get(p) !== want) mismatches++;
        if (bm.get(p) && !r.present.get(p)) mismatches++;
      }
      expect(mismatches, `level ${level}`).toBe(0);
      const { total } = excludedCounts(c, level);
      expect(bm.count(), `level ${level}`).toBe(r.present.count() - total);
    }
    expect(buildDumpableBitmap(c, 31).count()).toBe(r.present.count() - 8 - 2 - 1 - 1 - 1 - 2 - 512);
    expect(buildDumpableBitmap(c, 0).count()).toBe(r.present.count() - 2 - 1 - 1);
  });
});
