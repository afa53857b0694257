import { describe, expect, it } from 'vitest';
import { BufferSource } from '../../src/io/file.js';
import { openElfDump } from '../../src/formats/elf/reader.js';
import { classifyDump, excludedClasses, recordZeroPages, CLASS_NAMES, PageClass, type Classification, type PageClassName } from '../../src/filter/index.js';
import { LINUX_6_0, type KernelProfile } from '../../src/mm/profiles.js';
import { Synth, type SynthOptions } from './synth.js';

function classify(s: Synth, opts: { dumpLevel?: number; reportedBit?: number; elf?: Parameters<Synth['elf']>[0] } = {}): Classification {
  const r = openElfDump(new BufferSource(s.elf(opts.elf)));
  return classifyDump(r, { dumpLevel: opts.dumpLevel ?? 31, reportedBit: opts.reportedBit });
}

/** Pfns whose class differs from what the synthetic machine built. */
function diffs(s: Synth, c: Classification, limit = 10): string[] {
  const out: string[] = [];
  for (let p = 0; p < c.maxMapnr && out.length < limit; p++) {
    const want = s.expected[p] ?? 'hole';
    const got = CLASS_NAMES[c.classOf[p]!];
    if (want !== got) out.push(`pfn ${p}: want ${want}, got ${got}`);
  }
  return out;
}

function nonZero(c: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== 0));
}

/** A machine with one page of every kind; small sections (256 pfns) so ranges cross sections. */
function mixed(opts: SynthOptions = {}): Synth {
  const s = new Synth({ sectionSizeBits: 20, ...opts });
  s.buddy(2048, 0);
  s.buddy(2056, 3);
  s.buddy(3072, 10); // 1024 pages: spans four 256-pfn sections
  s.buddy(4200, 2, { hinted: true });
  s.offline(4300);
  s.hwpoison(4301);
  s.anon(4302);
  s.anon(4303, s.flagBit('swapcache') | s.flagBit('swapbacked')); // anon in swap cache: user
  s.cache(4304);
  s.cache(4305, true);
  s.setPage(4306, { flags: s.flagBit('swapcache') | s.flagBit('swapbacked'), mapping: s.dva(0x5000) });
  s.setExpected(4306, 1, 'cache'); // shmem page in swap cache
  s.slab(4307); // slab with anon-looking mapping: slab vetoes anon
  s.slab(4308, LINUX_6_0.pageTypes.buddy!); // slab vetoes buddy
  s.setPage(4309, { mapcount: LINUX_6_0.pageTypes.offline!, flags: s.flagBit('slab') });
  s.setExpected(4309, 1, 'slab'); // slab vetoes offline
  s.compound(4352, 2, 'kernel');
  s.compound(4608, 9, 'thp'); // crosses a section boundary (4608..5119)
  s.compound(5120, 9, 'hugetlb');
  s.compound(5632, 3, 'cache');
  return s;
}

describe('classifyDump', () => {
  it('decides every page of a mixed machine as built', () => {
    const s = mixed();
    const c = classify(s);
    expect(diffs(s, c)).toEqual([]);
    expect(nonZero(c.counts)).toEqual(nonZero({ ...Object.fromEntries(CLASS_NAMES.map((n) => [n, 0])), ...s.expectedCounts() }));
    expect(c.counts.free).toBe(1 + 8 + 1024);
    expect(c.counts.hinted).toBe(4);
    expect(c.counts.user).toBe(2 + 512);
    expect(c.counts.hugetlb).toBe(512);
    expect(c.counts.unknown).toBe(0);
    expect(c.pageTypes?.scheme).toBe('inverted');
    expect(c.pageTypes?.decidedBy).toContain('NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)');
    expect(c.freePagesBy).toBe('page_type');
    expect(c.memMap?.model).toBe('sparsemem-extreme');
    expect(Object.values(c.decidable).every(Boolean)).toBe(true);
  });

  it('treats a buddy head with the reported bit as hinted', () => {
    const s = new Synth();
    s.buddy(1024, 4, { reportedBit: LINUX_6_0.otherFlags.uptodate });
    // No option: PG_uptodate (bit 2) is decided from the 6.0 NUMBER(PG_*) layout.
    const c = classify(s);
    expect(c.reported).toMatchObject({ by: 'vmcoreinfo', bit: LINUX_6_0.otherFlags.uptodate });
    expect(c.counts.hinted).toBe(16);
    expect(c.hintedBy).toEqual({ combined: 0, reported: 16 });
    expect(diffs(s, c)).toEqual([]);
    // The option overrides it: the same block is hinted with its bit, plain free with another or none.
    expect(classify(s, { reportedBit: LINUX_6_0.otherFlags.uptodate }).counts.hinted).toBe(16);
    for (const reportedBit of [5, null]) {
      const c2 = classify(s, { reportedBit });
      expect(c2.reported).toEqual({ by: 'option', bit: reportedBit });
      expect(c2.counts.hinted).toBe(0);
      expect(c2.counts.free).toBe(16);
    }
    expect(() => classify(s, { reportedBit: 64 })).toThrow(/not a page->flags bit/);
  });

  it('keeps buddy heads with an impossible or misaligned order, counting the reason', () => {
    const s = new Synth();
    s.setPage(1024, { mapcount: LINUX_6_0.pageTypes.buddy!, private: 11n });
    s.setPage(1029, { mapcount: LINUX_6_0.pageTypes.buddy!, private: 2n });
    s.setPage(1040, { mapcount: LINUX_6_0.pageTypes.buddy!, private: 1n << 32n });
    const c = classify(s);
    expect(c.classOf[1024]).toBe(PageClass.unknown);
    expect(c.classOf[1029]).toBe(PageClass.unknown);
    expect(c.classOf[1040]).toBe(PageClass.unknown);
    expect(c.reasons).toEqual({ invalid_order: 3 });
    expect(c.counts.free).toBe(0);
  });

  it('resets an impossible compound order to 0 and keeps the orphaned tails', () => {
    const s = new Synth();
    s.compound(1024, 2, 'thp', { badOrder: 70 });
    s.setExpected(1025, 3, 'unknown');
    s.compound(1033, 1, 'thp'); // misaligned order-1 compound
    s.setExpected(1034, 1, 'unknown');
    const c = classify(s);
    expect(diffs(s, c)).toEqual([]);
    expect(c.reasons).toEqual({ orphan_tail: 4 });
    expect(c.anomalies.invalid_compound_order).toBe(2);
  });

  it('marks pfns outside the PT_LOADs as holes', () => {
    const s = mixed({ ram: [[0, 12 << 20], [14 << 20, 30 << 20]] });
    const c = classify(s);
    expect(diffs(s, c)).toEqual([]);
    expect(c.maxMapnr).toBe((30 << 20) / 4096);
    expect(c.counts.hole).toBe(512);
    expect(c.counts.free).toBe(1 + 8 + 512); // the 1024-page block headed in the hole still frees its present half
  });

  it('keeps pages of sections without a usable mem_map, with the reason', () => {
    const s = new Synth({ sectionSizeBits: 22 });
    // Section 2: not present. Section 3: mem_map not a kernel address. Section 4: unmapped vmemmap.
    s.setU64(s.sectionEntryPa(2), 0n);
    s.setU64(s.sectionEntryPa(3), 0x1000n | 1n);
    s.setU64(s.sectionEntryPa(4), (s.vmemmap + (1n << 36n)) | 0xfn);
    s.buddy(2048, 3); // inside section 2: cannot be seen
    s.setExpected(2048, 1024 * 3, 'unknown');
    const c = classify(s);
    expect(diffs(s, c)).toEqual([]);
    expect(c.reasons).toEqual({ section_not_present: 1024, mem_map_not_kernel_address: 1024, mem_map_untranslatable: 1024 });
    expect(c.memMap?.unusableSections).toBe(3);
  });

  it('excludes memory in ranges wholly above the last present section (no struct page), at every level', () => {
    // RAM [0, 24 MiB) in sections 0..5; sections 6 and 7 not present; a separate PT_LOAD at
    // [26, 32) MiB, like QEMU's VGA framebuffer or BIOS ROM in its own dump: not RAM.
    const s = new Synth({ sectionSizeBits: 22, ram: [[0, 24 << 20], [26 << 20, 32 << 20]] });
    s.setU64(s.sectionEntryPa(6), 0n);
    s.setU64(s.sectionEntryPa(7), 0n);
    s.setExpected(6656, 8192 - 6656, 'no_struct_page');
    const c = classify(s);
    expect(diffs(s, c)).toEqual([]);
    expect(c.counts.no_struct_page).toBe(1536);
    expect(c.reasons).toEqual({});
    expect(c.decidedBy.no_struct_page).toContain('SYMBOL(mem_section)');
    for (const level of [0, 31]) expect(excludedClasses(level).has('no_struct_page')).toBe(true);
  });

  it('keeps, undecided, RAM that runs on past the last present section (a lost present bit)', () => {
    const s = new Synth({ sectionSizeBits: 22 });
    s.setU64(s.sectionEntryPa(7), 0n);
    s.setExpected(7168, 1024, 'unknown');
    const c = classify(s);
    expect(diffs(s, c)).toEqual([]);
    expect(c.counts.no_struct_page).toBe(0);
    expect(c.reasons).toEqual({ section_not_present: 1024 });
  });

  it('keeps pages whose struct pages are unmapped or not in the dump', () => {
    const s = new Synth({ vmemmap4k: true });
    s.unmap(s.structPageVa(640), 'PTE'); // 64 struct pages per 4 KiB
    s.setExpected(640, 64, 'unknown');
    // The physical page holding struct pages of pfns 1280..1343 is left out of the PT_LOADs.
    const pa = s.structPagePa(1280);
    const s2 = s;
    s2.ram.splice(0, s2.ram.length, [0, pa], [pa + 4096, 32 << 20]);
    s.setExpected(1280, 64, 'unknown');
    s.expected[pa / 4096] = undefined;
    const c = classify(s);
    expect(diffs(s, c)).toEqual([]);
    expect(c.reasons).toEqual({ struct_page_unmapped: 64, struct_page_not_in_dump: 64 });
  });

  it('works with 5-level tables, randomised bases and a 4 KiB-mapped vmemmap', () => {
    const s = mixed({ l5: true, pageOffset: 0xff3a5c0000000000n, vmemmap: 0xffd8c00000000000n, vmemmap4k: true });
    const c = classify(s);
    expect(diffs(s, c)).toEqual([]);
    expect(c.counts.unknown).toBe(0);
  });

  it('reads a plain (non-EXTREME) SPARSEMEM section array', () => {
    const s = mixed({ sparse: 'plain' });
    const c = classify(s);
    expect(c.memMap?.model).toBe('sparsemem');
    expect(diffs(s, c)).toEqual([]);
  });

  it('walks the free lists when PAGE_BUDDY_MAPCOUNT_VALUE is not exported', () => {
    const s = new Synth();
    s.omitKeys.add('NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)');
    s.buildFreeLists([[1024, 3], [2048, 10], [4000, 0], [4001, 0]]);
    const c = classify(s, { dumpLevel: 16 });
    expect(c.freePagesBy).toBe('free_lists');
    expect(c.counts.free).toBe(8 + 1024 + 2);
    expect(diffs(s, c)).toEqual([]);
    expect(c.warnings.filter((w) => /broken/.test(w))).toEqual([]);
  });

  it('drops a broken free list whole (its pages are kept)', () => {
    const s = new Synth();
    s.omitKeys.add('NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)');
    s.buildFreeLists([[1024, 3], [1032, 3], [2048, 10]], { breakPrevAt: 1032 });
    for (const p of [1024, 1032]) s.setExpected(p, 8, 'kernel');
    const c = classify(s, { dumpLevel: 16 });
    expect(c.counts.free).toBe(1024);
    expect(diffs(s, c)).toEqual([]);
    expect(c.warnings.some((w) => /order 3 .* is broken/.test(w))).toBe(true);
  });

  it('says which keys are missing when free pages cannot be found', () => {
    const s = new Synth();
    s.omitKeys.add('NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)');
    s.buddy(1024, 3);
    s.setExpected(1024, 8, 'kernel');
    const c = classify(s, { dumpLevel: 16 });
    expect(c.decidable.free).toBe(false);
    expect(c.undecidable.free).toMatch(/SYMBOL\(node_data\) or SYMBOL\(contig_page_data\)/);
    expect(diffs(s, c)).toEqual([]);
  });

  it('reports hwpoison and offline as undecidable when not exported, and keeps those pages', () => {
    const s = new Synth();
    s.omitKeys.add('NUMBER(PG_hwpoison)');
    s.omitKeys.add('NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)');
    s.hwpoison(1024);
    s.setExpected(1024, 1, 'kernel');
    s.setPage(1025, { mapcount: LINUX_6_0.pageTypes.offline! });
    const c = classify(s);
    expect(c.decidable.hwpoison).toBe(false);
    expect(c.decidable.offline).toBe(false);
    // No BUDDY&OFFLINE without the offline value, but PG_reported still decides hinted pages.
    expect(c.decidable.hinted).toBe(true);
    expect(c.decidedBy.hinted).toContain('NUMBER(PG_lru)');
    expect(classify(s, { reportedBit: null }).decidable.hinted).toBe(false);
    expect(c.undecidable.hwpoison).toMatch(/PG_hwpoison/);
    expect(diffs(s, c)).toEqual([]);
  });

  it('decodes the 6.12+ top-byte scheme (type in the top byte, data below)', () => {
    const profile: KernelProfile = {
      ...LINUX_6_0,
      pageTypes: { buddy: 0xf0000000 | 0, offline: 0xf1000000 | 0 },
    };
    const s = new Synth({ profile });
    s.buddy(1024, 3);
    s.setPage(1040, { mapcount: (0xf0000000 | 0x12) | 0, private: 2n }); // buddy with low data bits
    s.setExpected(1040, 4, 'free');
    s.offline(1050);
    const c = classify(s);
    expect(c.pageTypes?.scheme).toBe('top-byte');
    // Hinted only by PG_reported (the 6.0 flag numbers of this synthetic profile: bit 2).
    expect(c.decidable.hinted).toBe(true);
    expect(c.reported?.bit).toBe(2);
    expect(diffs(s, c)).toEqual([]);
  });

  it('decodes the sentinel scheme (≤ 4.17: buddy -128)', () => {
    const profile: KernelProfile = { ...LINUX_6_0, pageTypes: { buddy: -128 } };
    const s = new Synth({ profile });
    s.omitKeys.add('NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)');
    s.buddy(1024, 5);
    s.setPage(1100, { mapcount: -129, private: 0n }); // the 4.18+ value means nothing here
    const c = classify(s);
    expect(c.pageTypes?.scheme).toBe('sentinel');
    expect(diffs(s, c)).toEqual([]);
  });

  it('decodes a layout whose fields are not 4-byte aligned (read through a packed copy)', () => {
    // Every field two bytes off, SIZE(page) 66: the in-place int32 path cannot be used.
    const l = LINUX_6_0.layout;
    const profile: KernelProfile = {
      ...LINUX_6_0,
      layout: { ...l, size: 66, flags: 2, lru: 10, compoundHead: 10, mapping: 26, private: 42, mapcount: 50, refcount: 54, compoundDtor: 18, compoundOrder: 19 },
    };
    const s = mixed({ profile });
    const c = classify(s);
    expect(diffs(s, c)).toEqual([]);
    expect(c.counts.free).toBe(1 + 8 + 1024);
    expect(c.counts.hugetlb).toBe(512);
  });

  it('decides ranges and compound heads across struct page batches of a large section', () => {
    // 8192-pfn sections are read in 2048-pfn batches: blocks and compound pages straddle them.
    const s = new Synth({ sectionSizeBits: 25, memBytes: 64 << 20 });
    s.buddy(8192, 10);
    s.compound(8192 + 1536, 9, 'hugetlb'); // 9728..10239, then 10240 starts a new batch
    s.compound(10240 + 2048 - 512, 9, 'thp'); // ends at a batch boundary
    s.buddy(10240 + 2048, 3, { hinted: true });
    s.anon(14335); // the last pfn of a batch
    s.cache(14336);
    const c = classify(s);
    expect(diffs(s, c)).toEqual([]);
    expect(c.counts.hugetlb).toBe(512);
    expect(c.counts.hinted).toBe(8);
  });

  it('keeps everything, with a reason, when the dump has no VMCOREINFO or lacks struct page keys', () => {
    const s = new Synth();
    s.buddy(1024, 3);
    const r = openElfDump(new BufferSource(s.elf({ vmcoreinfo: null })));
    const c = classifyDump(r, { dumpLevel: 31 });
    expect(c.counts.unknown).toBe(8192);
    expect(c.reasons).toEqual({ no_vmcoreinfo: 8192 });
    expect(c.decidable.free).toBe(false);
    s.omitKeys.add('OFFSET(page._mapcount)');
    const c2 = classify(s);
    expect(c2.reasons).toEqual({ missing_struct_page_keys: 8192 });
    expect(c2.warnings[0]).toMatch(/OFFSET\(page._mapcount\)/);
  });

  it('keeps everything when kernel addresses cannot be translated', () => {
    const s = new Synth();
    s.omitKeys.add('SYMBOL(init_top_pgt)');
    s.omitKeys.add('SYMBOL(swapper_pg_dir)');
    const c = classify(s);
    expect(c.reasons).toEqual({ no_translation: 8192 });
  });

  it('accounts zero pages by class through the hook', () => {
    const s = mixed();
    const c = classify(s);
    recordZeroPages(c, 2048, 1);
    recordZeroPages(c, 100, 2);
    expect(c.zero.pages).toBe(3);
    expect(c.zero.byClass.free).toBe(1);
    expect(c.zero.byClass.kernel).toBe(2);
  });

  it('counts sum to max_mapnr', () => {
    const s = mixed();
    const c = classify(s);
    const total = (Object.values(c.counts) as number[]).reduce((a, b) => a + b, 0);
    expect(total).toBe(c.maxMapnr);
    const classes: PageClassName[] = [...CLASS_NAMES];
    expect(classes).toContain('hinted');
  });
});
