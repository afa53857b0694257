/** Compound order and hugetlb detection across the ways kernels export them (FORMATS.md §4.4). */
import { describe, expect, it } from 'vitest';
import { BufferSource } from '../../src/io/file.js';
import { openElfDump } from '../../src/formats/elf/reader.js';
import { classifyDump, CLASS_NAMES } from '../../src/filter/index.js';
import { LINUX_6_0, type KernelProfile } from '../../src/mm/profiles.js';
import { Synth } from './synth.js';

const HEAD = LINUX_6_0.flags.headMask;

function run(s: Synth) {
  return classifyDump(openElfDump(new BufferSource(s.elf())), { dumpLevel: 31 });
}
const cls = (c: ReturnType<typeof run>, p: number) => CLASS_NAMES[c.classOf[p]!];

/** A compound page whose order lives in page[1].flags & 0xff (6.6+), with extra page[1] flag bits. */
function folio(s: Synth, pfn: number, order: number, head: { mapcount?: number; mapping?: bigint } = {}, page1Flags = 0n): void {
  s.setPage(pfn, { flags: HEAD, ...head });
  for (let i = 1; i < 2 ** order; i++) {
    s.setPage(pfn + i, { compoundHead: s.structPageVa(pfn) | 1n, flags: i === 1 ? BigInt(order) | page1Flags : 0n });
  }
}

describe('compound pages', () => {
  it('reads the order from page[1].flags and hugetlb from NUMBER(PG_hugetlb) (6.6–6.8 style)', () => {
    const s = new Synth();
    for (const k of ['OFFSET(page.compound_order)', 'OFFSET(page.compound_dtor)', 'NUMBER(HUGETLB_PAGE_DTOR)']) s.omitKeys.add(k);
    s.extraLines.push('NUMBER(PG_hugetlb)=44');
    folio(s, 2048, 9, {}, 1n << 44n);
    folio(s, 2560, 9, { mapping: s.dva(0x1000) | 1n, mapcount: 0 });
    folio(s, 3072, 3, {});
    const c = run(s);
    expect(c.decidable.hugetlb).toBe(true);
    expect([cls(c, 2048), cls(c, 2559)]).toEqual(['hugetlb', 'hugetlb']);
    expect([cls(c, 2560), cls(c, 3071)]).toEqual(['user', 'user']);
    expect([cls(c, 3072), cls(c, 3079), cls(c, 3080)]).toEqual(['kernel', 'kernel', 'kernel']);
    expect(c.counts.hugetlb).toBe(512);
    expect(c.counts.unknown).toBe(0);
  });

  it('recognises hugetlb and slab page types (6.9+/6.10 style)', () => {
    const profile: KernelProfile = { ...LINUX_6_0, pageTypes: { buddy: -129, offline: -257, hugetlb: -2049, slab: -4097 } };
    const s = new Synth({ profile });
    for (const k of ['OFFSET(page.compound_order)', 'OFFSET(page.compound_dtor)', 'NUMBER(HUGETLB_PAGE_DTOR)', 'NUMBER(PG_slab)']) s.omitKeys.add(k);
    s.extraLines.push('NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)=-2049', 'NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)=-4097');
    folio(s, 2048, 9, { mapcount: -2049 });
    s.setPage(3000, { mapcount: -4097, mapping: s.dva(0x3000) | 1n }); // slab: vetoes anon
    folio(s, 3008, 2, { mapcount: -4097 }); // a compound slab
    const c = run(s);
    expect(c.decidable.slab).toBe(true);
    expect(c.counts.hugetlb).toBe(512);
    expect(c.counts.slab).toBe(1 + 4);
    expect(cls(c, 3000)).toBe('slab');
  });

  it('treats unaccepted memory as free MAX_ORDER blocks', () => {
    const profile: KernelProfile = { ...LINUX_6_0, pageTypes: { buddy: 0xf0000000 | 0, offline: 0xf1000000 | 0 } };
    const s = new Synth({ profile });
    s.extraLines.push(`NUMBER(PAGE_UNACCEPTED_MAPCOUNT_VALUE)=${0xf7000000 | 0}`);
    s.setPage(4096, { mapcount: 0xf7000000 | 0 });
    s.setPage(5200, { mapcount: 0xf7000000 | 0 }); // misaligned: kept
    const c = run(s);
    expect(c.counts.free).toBe(1024);
    expect(cls(c, 4096 + 1023)).toBe('free');
    expect(c.reasons).toEqual({ invalid_order: 1 });
  });

  it('uses HUGETLB_PAGE_DTOR in page[1] (≤ 6.2 style) and keeps non-hugetlb compound pages kernel', () => {
    const s = new Synth();
    s.compound(2048, 9, 'hugetlb');
    s.compound(2560, 2, 'kernel');
    const c = run(s);
    expect(c.counts.hugetlb).toBe(512);
    expect(cls(c, 2563)).toBe('kernel');
  });

  it('treats compound heads as order 0 when PG_head_mask is not exported (tails kept as unknown)', () => {
    const s = new Synth();
    s.omitKeys.add('NUMBER(PG_head_mask)');
    s.compound(2048, 2, 'thp');
    const c = run(s);
    expect(c.decidable.hugetlb).toBe(false);
    expect(cls(c, 2048)).toBe('user');
    expect(c.reasons).toEqual({ orphan_tail: 3 });
    expect(c.warnings.some((w) => /PG_head_mask/.test(w))).toBe(true);
  });

  it('finishes a compound range that crosses sections and reads page[1] across a section end', () => {
    const s = new Synth({ sectionSizeBits: 20 }); // 256-pfn sections
    s.compound(2048, 10, 'hugetlb'); // four sections
    // A head at the last pfn of a section: its page[1] is the next section's first struct page.
    s.setPage(2303 + 1024, { flags: HEAD, mapping: s.dva(0x1000) | 1n, mapcount: 0 });
    s.setPage(2304 + 1024, { compoundHead: s.structPageVa(2303 + 1024) | 1n, order: 1 });
    const c = run(s);
    expect(c.counts.hugetlb).toBe(1024);
    expect(cls(c, 3327)).toBe('user');
    expect(cls(c, 3328)).toBe('unknown'); // misaligned order 1 → order 0; its tail is orphaned
    expect(c.anomalies.invalid_compound_order).toBe(1);
  });
});
