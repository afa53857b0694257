/**
 * The classifier's passes one by one: the pfn sets windows are cut from (PfnRanges against
 * Bitmap), the walk's ranges (segmentsOf), the decidability pass (decideClasses), and the walk
 * itself: any window size gives the classes and counts of the whole-dump classification.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BufferSource } from '../../src/io/file.js';
import { Bitmap } from '../../src/io/bitmap.js';
import { PfnRanges, windowBits } from '../../src/io/pfn-set.js';
import { openElfDump } from '../../src/formats/elf/reader.js';
import { addClassCounts, classifyDump, prepareClassifier, walkClassifier, type ClassSummary } from '../../src/filter/index.js';
import { segmentsOf } from '../../src/filter/walk.js';
import { decideClasses } from '../../src/filter/decide.js';
import { CLASS_NAMES, NR_CLASSES, PageClass } from '../../src/filter/classes.js';
import type { MemMap } from '../../src/mm/memmap.js';
import { LINUX_6_0 } from '../../src/mm/profiles.js';
import { detectPageTypes } from '../../src/mm/pagetype.js';
import { parseVmcoreinfo } from '../../src/vmcoreinfo/parse.js';
import { Synth } from './synth.js';

const runsArb = (n: number) => fc.array(fc.tuple(fc.nat(n), fc.nat(64)).map(([s, l]) => [s, Math.min(n, s + l)] as [number, number]), { maxLength: 12 });

describe('PfnRanges', () => {
  it('answers get / nextSet / nextClear / count as a Bitmap of the same pfns does', () => {
    fc.assert(
      fc.property(runsArb(300), fc.nat(310), fc.nat(310), (runs, a, b) => {
        const n = 300;
        const bm = new Bitmap(n);
        for (const [s, e] of runs) bm.setRange(s, e);
        const r = new PfnRanges(n, runs);
        const [i, end] = a <= b ? [a, b] : [b, a];
        expect(r.get(i)).toBe(i < n && bm.get(i));
        expect(r.nextSet(i, end)).toBe(bm.nextSet(i, end));
        if (i < n) expect(r.nextClear(i, end)).toBe(bm.nextClear(i, end));
        expect(r.count(Math.min(i, n), Math.min(end, n))).toBe(bm.count(Math.min(i, n), Math.min(end, n)));
      }),
    );
  });
  it('cuts the same window as the Bitmap (windowBits), and a Bitmap window is a view', () => {
    fc.assert(
      fc.property(runsArb(1000), fc.nat(120), fc.nat(400), (runs, w, len) => {
        const n = 1000;
        const bm = new Bitmap(n);
        for (const [s, e] of runs) bm.setRange(s, e);
        const base = w * 8;
        const end = Math.min(n, base + len);
        if (end < base) return;
        const a = windowBits(new PfnRanges(n, runs), base, end);
        const b = windowBits(bm, base, end);
        expect(Array.from(a.bytes)).toEqual(Array.from(b.bytes));
        expect(a.nbits).toBe(end - base);
      }),
    );
    const bm = new Bitmap(64);
    expect(windowBits(bm, 16, 32).bytes.buffer).toBe(bm.bytes.buffer);
  });
});

describe('segmentsOf (the walk over sections, gaps and unusable sections)', () => {
  it('orders usable sections, unusable ones and the gaps between them; skips sections with nothing near', () => {
    const present = new PfnRanges(1000, [
      [0, 100],
      [300, 400],
      [900, 1000],
    ]);
    const mm = {
      sections: [
        { nr: 0, startPfn: 0, endPfn: 100, memMap: 0n },
        { nr: 3, startPfn: 300, endPfn: 400, memMap: 0n },
        { nr: 6, startPfn: 600, endPfn: 700, memMap: 0n }, // nothing present within the lookahead
      ],
      unusable: [{ nr: 1, startPfn: 100, endPfn: 300, reason: 'section_not_present', detail: '' }],
    } as unknown as MemMap;
    expect(segmentsOf(mm, present, 1000, 16)).toEqual([
      { s: 0, e: 100, reason: null },
      { s: 100, e: 300, reason: 'section_not_present' },
      { s: 300, e: 400, reason: null },
      { s: 400, e: 600, reason: 'no_mem_map' },
      { s: 700, e: 1000, reason: 'no_mem_map' },
    ]);
  });
});

describe('decideClasses (what the dump lets us decide)', () => {
  it('marks hwpoison undecidable, naming the key, when NUMBER(PG_hwpoison) is not exported', () => {
    const s = new Synth();
    s.omitKeys.add('NUMBER(PG_hwpoison)');
    const vi = parseVmcoreinfo(s.vmcoreinfo());
    const c = { decidable: Object.fromEntries(CLASS_NAMES.map((n) => [n, false])), undecidable: {}, warnings: [], reported: { bit: 2, by: 'option' } } as unknown as ClassSummary;
    const pt = detectPageTypes(vi);
    const flags = { lru: 4, private: 13, swapcache: 10, swapbacked: 19, slab: 9, hwpoison: undefined, headMask: 1n << 16n };
    const compound = { hugetlbBy: null, orderBy: null } as never;
    decideClasses(c, vi, flags, pt, compound, 2);
    expect(c.decidable.hwpoison).toBe(false);
    expect(c.undecidable.hwpoison).toMatch(/PG_hwpoison/);
    expect(c.decidable.cache).toBe(true);
    expect(c.decidable.hugetlb).toBe(false);
  });
});

/** A machine whose heads and blocks cross 256-pfn sections (and so windows). */
function crossing(freeLists = false): Synth {
  const s = new Synth({ sectionSizeBits: 20 });
  if (freeLists) {
    s.omitKeys.add('NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)');
    s.buildFreeLists([
      [1024, 3],
      [2048, 10],
      [4000, 0],
    ]);
  } else {
    s.buddy(2048, 0);
    s.buddy(3072, 10);
    s.buddy(4200, 2, { hinted: true });
  }
  s.offline(4300);
  s.hwpoison(4301);
  s.anon(4302);
  s.cache(4304, true);
  s.slab(4308, LINUX_6_0.pageTypes.buddy!);
  s.compound(4608, 9, 'thp');
  s.compound(5120, 9, 'hugetlb');
  s.compound(5632, 3, 'cache');
  return s;
}

describe('ClassWalk (windows)', () => {
  for (const freeLists of [false, true]) {
    it(`any window size gives the whole-dump classes and counts (${freeLists ? 'free lists' : 'page types'})`, () => {
      const elf = crossing(freeLists).elf();
      const whole = classifyDump(openElfDump(new BufferSource(elf)), { dumpLevel: 31 });
      for (const size of [8, 64, 200, 256, 1000, 4096]) {
        const k = prepareClassifier(openElfDump(new BufferSource(elf)), { dumpLevel: 31 });
        const walk = k.walk();
        const buf = new Uint8Array(size);
        const all = new Uint8Array(whole.maxMapnr);
        for (let base = 0; base < whole.maxMapnr; base += size) {
          const end = Math.min(whole.maxMapnr, base + size);
          walk.window(base, end, buf);
          all.set(buf.subarray(0, end - base), base);
        }
        const sum = walk.finish();
        expect(Buffer.compare(Buffer.from(all), Buffer.from(whole.classOf)), `window ${size}`).toBe(0);
        expect(sum.counts).toEqual(whole.counts);
        expect(sum.reasons).toEqual(whole.reasons);
        expect(sum.hintedBy).toEqual(whole.hintedBy);
        expect(sum.anomalies).toEqual(whole.anomalies);
      }
    });
  }
  it('refuses windows out of order (state carries from one window to the next)', () => {
    const k = prepareClassifier(openElfDump(new BufferSource(crossing().elf())), { dumpLevel: 31 });
    const w = k.walk();
    w.window(0, 256, new Uint8Array(256));
    expect(() => w.window(512, 768, new Uint8Array(256))).toThrow(/does not follow/);
  });
  it('counts the pfns of windows it skips (no readable pfn) as holes', () => {
    const s = new Synth({ sectionSizeBits: 20, ram: [[0, 4 << 20], [24 << 20, 32 << 20]] });
    const elf = s.elf();
    const whole = classifyDump(openElfDump(new BufferSource(elf)), { dumpLevel: 31 });
    const w = prepareClassifier(openElfDump(new BufferSource(elf)), { dumpLevel: 31 }).walk();
    const buf = new Uint8Array(512);
    for (let b = 0; b < whole.maxMapnr; b += 512) w.window(b, Math.min(whole.maxMapnr, b + 512), buf);
    const c = w.finish();
    expect(c.counts).toEqual(whole.counts);
    expect(c.counts.hole).toBeGreaterThanOrEqual(5 * 256);
  });
});

describe('walkClassifier (the triage commands\' walk)', () => {
  it('hands over adjacent windows that make up the whole-dump classes; an empty window is all holes', () => {
    const s = new Synth({ sectionSizeBits: 20, ram: [[0, 4 << 20], [24 << 20, 32 << 20]] });
    const elf = s.elf();
    const whole = classifyDump(openElfDump(new BufferSource(elf)), { dumpLevel: 31 });
    const all = new Uint8Array(whole.maxMapnr);
    let next = 0;
    let empty = 0;
    // --cyclic-buffer 0 KiB: the smallest windows, 64 pfns
    const sum = walkClassifier(prepareClassifier(openElfDump(new BufferSource(elf)), { dumpLevel: 31 }), (w) => {
      expect(w.base).toBe(next);
      expect(w.end - w.base).toBeLessThanOrEqual(64);
      next = w.end;
      const c = w.classes.subarray(0, w.end - w.base);
      if (w.empty) {
        empty++;
        expect(c.every((k) => k === PageClass.hole)).toBe(true);
      }
      all.set(c, w.base);
    }, 0);
    expect(next).toBe(whole.maxMapnr);
    expect(empty).toBeGreaterThanOrEqual((20 << 20) / 4096 / 64);
    expect(Buffer.compare(Buffer.from(all), Buffer.from(whole.classOf))).toBe(0);
    expect(sum.counts).toEqual(whole.counts);
    expect(sum.reasons).toEqual(whole.reasons);
  });
  it('addClassCounts counts any range of any view, as one pfn at a time does', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(0), fc.nat(NR_CLASSES - 1)), { maxLength: 80 }), fc.nat(3), fc.nat(80), fc.nat(80), (vals, off, a, b) => {
        const backing = new Uint8Array(off + vals.length);
        backing.set(vals, off);
        const view = backing.subarray(off);
        const [s, e] = [Math.min(a, b, vals.length), Math.min(Math.max(a, b), vals.length)];
        const got = new Float64Array(NR_CLASSES).fill(1);
        addClassCounts(view, s, e, got);
        const want = new Float64Array(NR_CLASSES).fill(1);
        for (let i = s; i < e; i++) want[view[i]!]!++;
        expect(Array.from(got)).toEqual(Array.from(want));
      }),
    );
  });
});
