/**
 * Every kernel generation (src/mm/profiles.ts), simulated and decoded: the encoding is
 * detected from the exported values, the filter's class of every pfn equals the ground truth,
 * its excluded set equals the truth's at every dump level 0..31 (pfn by pfn, zero pages by
 * content), and the golden fixture in fixtures/generations/<profile>.txt still holds.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLASSES, truthClassArray, type GroundTruth } from '../../src/sim/index.js';
import { ARM64_FIXTURES, generationFixture } from '../../src/sim/fixtures-cli.js';
import { hintingOf } from '../../src/sim/generation.js';
import { PROFILES, PROFILE_NAMES } from '../../src/mm/profiles.js';
import { openDump } from '../../src/formats/probe.js';
import { buildDumpableBitmap, classifyDump, CLASS_NAMES, type PageClassName } from '../../src/filter/index.js';
import type { DumpReader } from '../../src/formats/dump.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'generations-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'generations');

/** What each generation's dump must be detected as. */
const EXPECT: Record<string, { scheme: string; base?: number; freeBy: string; hugetlbBy: string; slabBy: string }> = {
  'no-buddy-export': { scheme: 'none', freeBy: 'free_lists', hugetlbBy: 'NUMBER(HUGETLB_PAGE_DTOR)', slabBy: 'NUMBER(PG_slab)' },
  'linux-4.14': { scheme: 'sentinel', freeBy: 'page_type', hugetlbBy: 'NUMBER(HUGETLB_PAGE_DTOR)', slabBy: 'NUMBER(PG_slab)' },
  'linux-5.4': { scheme: 'inverted', base: 0xf0000000, freeBy: 'page_type', hugetlbBy: 'NUMBER(HUGETLB_PAGE_DTOR)', slabBy: 'NUMBER(PG_slab)' },
  'linux-6.0': { scheme: 'inverted', base: 0xf0000000, freeBy: 'page_type', hugetlbBy: 'NUMBER(HUGETLB_PAGE_DTOR)', slabBy: 'NUMBER(PG_slab)' },
  'linux-6.4': { scheme: 'inverted', base: 0xf0000000, freeBy: 'page_type', hugetlbBy: 'NUMBER(HUGETLB_PAGE_DTOR)', slabBy: 'NUMBER(PG_slab)' },
  'linux-6.8': { scheme: 'inverted', base: 0xf0000000, freeBy: 'page_type', hugetlbBy: 'NUMBER(PG_hugetlb)', slabBy: 'NUMBER(PG_slab)' },
  'linux-6.10': { scheme: 'inverted', base: 0xf0000000, freeBy: 'page_type', hugetlbBy: 'NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)', slabBy: 'NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)' },
  'linux-6.11': { scheme: 'inverted', base: 0x80000000, freeBy: 'page_type', hugetlbBy: 'NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)', slabBy: 'NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)' },
  'linux-6.12': { scheme: 'top-byte', freeBy: 'page_type', hugetlbBy: 'NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)', slabBy: 'NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)' },
  'linux-6.16': { scheme: 'top-byte', freeBy: 'page_type', hugetlbBy: 'NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)', slabBy: 'NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)' },
};

/** The filter class a truth class must be decoded as. */
function expectedClass(t: (typeof CLASSES)[number]): PageClassName {
  if (t === 'zero') return 'kernel'; // kernel memory that happens to be zero
  if (t === 'unaccepted') return 'free'; // excluded with free pages (bit 16), as makedumpfile 1.7.8+
  return t;
}

/** Classes each level excludes, written out independently of src/filter/dumplevel.ts. */
function excludes(cls: PageClassName, level: number): boolean {
  switch (cls) {
    case 'offline':
    case 'hinted':
    case 'hwpoison':
      return true;
    case 'free':
      return (level & 16) !== 0;
    case 'cache':
      return (level & 6) !== 0;
    case 'cache_private':
      return (level & 4) !== 0;
    case 'user':
    case 'hugetlb':
      return (level & 8) !== 0;
    default:
      return false;
  }
}

function zeroPages(r: DumpReader): Uint8Array {
  const z = new Uint8Array(r.maxMapnr);
  const ps = r.info.pageSize;
  const buf = Buffer.alloc(256 * ps);
  const zero = Buffer.alloc(ps);
  for (let p = r.present.nextSet(0); p >= 0 && p < r.maxMapnr; ) {
    const clear = r.present.nextClear(p);
    const end = Math.min(p + 256, clear < 0 ? r.maxMapnr : clear);
    r.readPages(p, end - p, buf);
    for (let q = p; q < end; q++) if (buf.compare(zero, 0, ps, (q - p) * ps, (q - p + 1) * ps) === 0) z[q] = 1;
    p = end >= r.maxMapnr ? -1 : r.present.nextSet(end);
  }
  return z;
}

/**
 * The classes pfn by pfn against the truth, then at every level the excluded set, pfn by pfn,
 * against the truth's classes and the pages' zero content (bit 1), and its size against the
 * truth's count.
 */
function expectTruthAtEveryLevel(r: DumpReader, c: ReturnType<typeof classifyDump>, truth: GroundTruth): void {
  const want = truthClassArray(truth);
  const mismatches: string[] = [];
  for (let p = 0; p < r.maxMapnr && mismatches.length < 10; p++) {
    const w = expectedClass(CLASSES[want[p]!]!);
    const got = CLASS_NAMES[c.classOf[p]!]!;
    if (w !== got) mismatches.push(`pfn ${p}: truth ${CLASSES[want[p]!]}, got ${got}`);
  }
  expect(mismatches).toEqual([]);

  // Every level: the excluded set, pfn by pfn, against the truth's classes and the pages'
  // zero content (bit 1); and its size against the truth's count.
  const zero = zeroPages(r);
  for (let level = 0; level <= 31; level++) {
    const bm = buildDumpableBitmap(c, level);
    let excluded = 0;
    let wrong = 0;
    for (let p = 0; p < r.maxMapnr; p++) {
      if (!r.present.get(p)) continue;
      const cls = expectedClass(CLASSES[want[p]!]!);
      const keep = !excludes(cls, level);
      if (bm.get(p) !== keep) wrong++;
      if (!keep || (level & 1 && zero[p])) excluded++;
    }
    expect(wrong, `level ${level}`).toBe(0);
    expect(excluded, `level ${level}`).toBe(truth.excludeByLevel[level]);
  }
}

describe.each(PROFILE_NAMES.map((n) => [n]))('kernel generation %s', (name) => {
  const profile = PROFILES[name]!;
  it('is detected from its exports and decoded pfn by pfn at every dump level', async () => {
    const img = path.join(dir, `${name}.vmcore`);
    const { truth } = await simulate96(img, name);
    const style = hintingOf(profile, { hintedStyle: 'combined' });
    const r = openDump(img);
    try {
      // No reported bit given: PG_uptodate is decided from the exported NUMBER(PG_*) layout.
      const c = classifyDump(r, { dumpLevel: 31, alwaysWalkFreeLists: true });
      expect(c.reported).toMatchObject({ by: 'vmcoreinfo', bit: profile.otherFlags.uptodate });
      const e = EXPECT[name]!;
      expect(c.pageTypes?.scheme).toBe(e.scheme);
      expect(c.pageTypes?.base).toBe(e.base);
      expect(c.freePagesBy).toBe(e.freeBy);
      expect(c.decidedBy.hugetlb?.[0]).toBe(e.hugetlbBy);
      expect(c.decidedBy.slab).toEqual([e.slabBy]);
      expect(c.reasons).toEqual({});
      expect(c.warnings.filter((w) => /broken|invalid|cannot/.test(w))).toEqual([]);
      // The generation's own classes exist in the image, so the comparison means something.
      expect(truth.counts.free).toBeGreaterThan(0);
      expect(truth.counts.hugetlb).toBeGreaterThan(0);
      if (style !== 'none') expect(truth.counts.hinted).toBeGreaterThan(0);
      if (profile.unaccepted) expect(truth.counts.unaccepted).toBeGreaterThan(0);

      expectTruthAtEveryLevel(r, c, truth);

      // The decoder never looks at OSRELEASE: another release string decodes the same.
      const renamed = r.vmcoreinfoText!.replace(/^OSRELEASE=.*$/m, 'OSRELEASE=2.6.32-not-this-kernel');
      const view: DumpReader = Object.create(r, { vmcoreinfoText: { value: renamed } });
      const c2 = classifyDump(view, { dumpLevel: 31, alwaysWalkFreeLists: true });
      expect(Buffer.from(c2.classOf).equals(Buffer.from(c.classOf))).toBe(true);
    } finally {
      r.close();
    }
  });

  it('matches its golden fixture', async () => {
    const { text } = await generationFixture(name, dir);
    const file = path.join(FIXTURES, `${name}.txt`);
    await expect(text).toMatchFileSnapshot(file);
  });
});

describe('generations the tool cannot fully decode', () => {
  it('6.12+: with --reported-bit none, or exports that match no layout, reported blocks are free and hinted is undecidable, named as such', async () => {
    const img = path.join(dir, 'r612.vmcore');
    const { truth } = await simulate96(img, 'linux-6.12');
    const r = openDump(img);
    try {
      const off = classifyDump(r, { dumpLevel: 31, reportedBit: null });
      expect(off.decidable.hinted).toBe(false);
      expect(off.undecidable.hinted).toMatch(/PG_reported not tested \(--reported-bit none\)/);
      expect(off.counts.hinted).toBe(0);
      expect(off.counts.free).toBe(truth.counts.free + truth.counts.hinted + truth.counts.unaccepted);
      // PG_swapcache of the 6.10 layout with PG_lru of 6.12: no layout has both.
      const text = r.vmcoreinfoText!.replace(/^NUMBER\(PG_swapcache\)=.*$/m, 'NUMBER(PG_swapcache)=11');
      const view: DumpReader = Object.create(r, { vmcoreinfoText: { value: text } });
      const c = classifyDump(view, { dumpLevel: 31 });
      expect(c.reported).toMatchObject({ by: 'unknown', bit: null });
      expect(c.decidable.hinted).toBe(false);
      expect(c.undecidable.hinted).toMatch(/PG_uptodate, whose position is unknown: .*NUMBER\(PG_swapcache\)=11.*match no known enum pageflags layout.*--reported-bit/);
      expect(c.counts.hinted).toBe(0);
      expect(c.counts.free).toBe(truth.counts.free + truth.counts.hinted + truth.counts.unaccepted);
    } finally {
      r.close();
    }
  });

  // The inverted generations can also mark reported blocks the 5.7+ way (PG_reported on a
  // buddy head, which is what real 5.7–6.11 kernels do): with no option, the bit decided from
  // each layout finds exactly the truth's hinted pages.
  it.each(['linux-5.4', 'linux-6.0', 'linux-6.8', 'linux-6.11'])('%s, hinted style pg-reported: the default decision excludes exactly the hinted pages', async (name) => {
    const img = path.join(dir, `pgr-${name}.vmcore`);
    const { simulate } = await import('../../src/sim/index.js');
    const { truth } = await simulate(img, { kernel: name, seed: 7, memBytes: 96 << 20, hintedStyle: 'pg-reported' });
    expect(truth.counts.hinted).toBeGreaterThan(0);
    const r = openDump(img);
    try {
      const c = classifyDump(r, { dumpLevel: 31, alwaysWalkFreeLists: true });
      expect(c.reported).toMatchObject({ by: 'vmcoreinfo', bit: PROFILES[name]!.otherFlags.uptodate });
      expect(c.counts.hinted).toBe(truth.counts.hinted);
      expect(c.hintedBy).toEqual({ combined: 0, reported: truth.counts.hinted });
      const want = truthClassArray(truth);
      let wrong = 0;
      for (let p = 0; p < r.maxMapnr; p++) if ((CLASSES[want[p]!] === 'hinted') !== (c.classOf[p] === CLASS_NAMES.indexOf('hinted'))) wrong++;
      expect(wrong).toBe(0);
      // --reported-bit none: the same blocks are free again.
      const off = classifyDump(r, { dumpLevel: 31, reportedBit: null, alwaysWalkFreeLists: true });
      expect(off.counts.hinted).toBe(0);
      expect(off.counts.free).toBe(c.counts.free + c.counts.hinted);
    } finally {
      r.close();
    }
  });

  it('keeps every page, naming the missing keys, when struct page offsets are not exported', async () => {
    const img = path.join(dir, 'nokeys.vmcore');
    await simulate96(img, 'linux-6.16');
    const r = openDump(img);
    try {
      const text = r.vmcoreinfoText!.replace(/^OFFSET\(page\._mapcount\)=.*\n/m, '');
      const view: DumpReader = Object.create(r, { vmcoreinfoText: { value: text } });
      const c = classifyDump(view, { dumpLevel: 31 });
      expect(c.counts.unknown).toBe(r.present.count());
      expect(c.warnings.join(' ')).toMatch(/OFFSET\(page\._mapcount\)/);
      expect(c.undecidable.free).toMatch(/OFFSET\(page\._mapcount\)/);
      expect(buildDumpableBitmap(c, 31).count()).toBe(r.present.count());
    } finally {
      r.close();
    }
  });

  it('names the missing keys when neither PAGE_BUDDY_MAPCOUNT_VALUE nor the free lists are available', async () => {
    const img = path.join(dir, 'nofree.vmcore');
    const { truth } = await simulate96(img, 'no-buddy-export');
    const r = openDump(img);
    try {
      const text = r.vmcoreinfoText!.replace(/^OFFSET\(free_area\.free_list\)=.*\n/m, '');
      const view: DumpReader = Object.create(r, { vmcoreinfoText: { value: text } });
      const c = classifyDump(view, { dumpLevel: 31 });
      expect(c.decidable.free).toBe(false);
      expect(c.undecidable.free).toMatch(/OFFSET\(free_area\.free_list\)/);
      expect(c.counts.free).toBe(0);
      // free pages are kept as kernel pages, never guessed
      expect(c.counts.kernel).toBeGreaterThanOrEqual(truth.counts.free);
    } finally {
      r.close();
    }
  });
});

// arm64 at every granule (Linux 6.12 layout and exports): translated through swapper_pg_dir,
// decoded pfn by pfn at every dump level against the truth, and its golden fixture.
describe.each(Object.entries(ARM64_FIXTURES))('arm64 %s', (name, row) => {
  it('is translated through swapper_pg_dir and decoded pfn by pfn at every dump level', async () => {
    const img = path.join(dir, `${name}.vmcore`);
    const { simulate } = await import('../../src/sim/index.js');
    const { truth } = await simulate(img, { kernel: row.kernel, seed: 7, memBytes: row.memBytes, arch: 'arm64', pageSize: row.pageSize, vaBits: row.vaBits });
    expect(truth.counts.hugetlb).toBeGreaterThan(0);
    const r = openDump(img);
    try {
      expect(r.info.pageSize).toBe(row.pageSize);
      expect(r.info.utsname.machine).toBe('aarch64');
      const c = classifyDump(r, { dumpLevel: 31 });
      expect(c.reasons).toEqual({});
      expect(truth.counts.free).toBeGreaterThan(0);
      expect(truth.counts.hinted).toBeGreaterThan(0);
      expectTruthAtEveryLevel(r, c, truth);
    } finally {
      r.close();
    }
  });

  it('matches its golden fixture', async () => {
    const { text } = await generationFixture(name, dir);
    await expect(text).toMatchFileSnapshot(path.join(FIXTURES, `${name}.txt`));
  });
});

async function simulate96(img: string, kernel: string) {
  const { simulate } = await import('../../src/sim/index.js');
  return simulate(img, { kernel, seed: 7, memBytes: 96 << 20 });
}
