/**
 * Compound pages: where a kernel keeps a compound page's order and whether it is a hugetlb
 * page (FORMATS.md §4.4). Decided from what VMCOREINFO exports, never from the version.
 */
import type { Vmcoreinfo } from '../vmcoreinfo/parse.js';
import type { StructPageLayout } from './layout.js';
import type { PageTypeDecoder } from './pagetype.js';

/** Reads order and hugetlb-ness of a compound head from its struct page and page[1]. */
export interface CompoundDecoder {
  /** Key(s) the order comes from, or null if the order cannot be read (every compound page is then order 0). */
  orderBy: string | null;
  /** Key(s) that identify hugetlb pages, or null if hugetlb pages cannot be told apart. */
  hugetlbBy: string | null;
  /** Order of the compound page whose first tail page starts at byte `off1` of `view`. */
  order(view: DataView, off1: number): number;
  /** Whether the head at `off0` (page[1] at `off1`, head page-type word `word`) is a hugetlb page. */
  isHugetlb(view: DataView, off0: number, off1: number, word: number): boolean;
}

/** Build the decoder for this kernel. */
export function compoundDecoderFromVmcoreinfo(vi: Vmcoreinfo, layout: StructPageLayout, pt: PageTypeDecoder): CompoundDecoder {
  let orderBy: string | null = null;
  let order: (v: DataView, off1: number) => number = () => 0;
  if (layout.compoundOrder !== undefined) {
    // ≤ 6.5: u8 compound_order / folio._folio_order in page[1].
    const o = layout.compoundOrder;
    orderBy = vi.has('OFFSET(page.compound_order)') ? 'OFFSET(page.compound_order)' : 'OFFSET(folio._folio_order)';
    order = (v, off1) => v.getUint8(off1 + o);
  } else if (vi.has('NUMBER(PG_head_mask)')) {
    // Kernels that keep the folio order in the low byte of page[1].flags (6.6+, FORMATS.md §4.4)
    // no longer export OFFSET(page.compound_order); the head mask tells us compounds exist.
    const f = layout.flags;
    orderBy = 'page[1].flags & 0xff (no OFFSET(page.compound_order))';
    order = (v, off1) => v.getUint8(off1 + f);
  }

  let hugetlbBy: string | null = null;
  let isHugetlb: CompoundDecoder['isHugetlb'] = () => false;
  const pgHugetlb = vi.numberAsInt('PG_hugetlb');
  const dtor = vi.numberAsInt('HUGETLB_PAGE_DTOR');
  if (pt.values.hugetlb !== undefined) {
    hugetlbBy = 'NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)';
    isHugetlb = (_v, _o0, _o1, word) => pt.is(word, 'hugetlb');
  } else if (pgHugetlb !== undefined && pgHugetlb >= 0 && pgHugetlb < 64) {
    hugetlbBy = 'NUMBER(PG_hugetlb)';
    const f = layout.flags;
    const word = pgHugetlb >= 32 ? 4 : 0;
    const bit = 1 << (pgHugetlb & 31);
    isHugetlb = (v, _o0, off1) => (v.getUint32(off1 + f + word, true) & bit) !== 0;
  } else if (dtor !== undefined && layout.compoundDtor !== undefined) {
    hugetlbBy = 'NUMBER(HUGETLB_PAGE_DTOR)';
    const d = layout.compoundDtor;
    isHugetlb = (v, _o0, off1) => v.getUint8(off1 + d) === dtor;
  }
  return { orderBy, hugetlbBy, order, isHugetlb };
}
