/**
 * Pass 0 of classification, before any struct page is read: what this dump lets us decide
 * (each class decidable or not, and why), the keys that decide each, and the page->flags bits
 * to use when VMCOREINFO's are incomplete.
 */
import type { Vmcoreinfo } from '../vmcoreinfo/parse.js';
import type { PageFlagBits } from '../mm/layout.js';
import type { PageTypeDecoder } from '../mm/pagetype.js';
import type { CompoundDecoder } from '../mm/compound.js';
import type { ReportedBitDecision } from '../mm/pageflags.js';
import type { PageClassName } from './classes.js';
import type { ClassSummary } from './classify.js';

/**
 * Which classes this dump lets us decide, and for the others why not (`c.decidable`,
 * `c.undecidable`, `c.decidedBy`, warnings): from the exported flag numbers, the page-type
 * scheme and the compound decoder. The per-page decisions are in scan.ts.
 */
export function decideClasses(
  c: ClassSummary,
  vi: Vmcoreinfo,
  flags: PageFlagBits,
  pt: PageTypeDecoder,
  compound: CompoundDecoder,
  reportedBit: number | undefined,
): void {
  const d = c.decidable;
  d.kernel = true;
  // Decided from mem_section alone (see the scan below).
  d.no_struct_page = true;
  d.cache = d.cache_private = d.user = flags.lru >= 0;
  if (!d.cache) c.undecidable.cache = c.undecidable.cache_private = c.undecidable.user = 'VMCOREINFO lacks page flag numbers';
  d.free = c.freePagesBy !== 'none';
  d.hinted = pt.canEncodeHinted || reportedBit !== undefined;
  if (!d.hinted) {
    const r = c.reported!;
    const flag =
      r.by === 'unknown'
        ? `reported free pages carry PG_reported = PG_uptodate, whose position is unknown: ${r.why} (give it with --reported-bit N)`
        : 'PG_reported not tested (--reported-bit none)';
    c.undecidable.hinted =
      pt.scheme === 'inverted'
        ? `NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE) not exported, and ${flag}`
        : pt.scheme === 'top-byte'
          ? `page-type scheme 'top-byte' holds one type per page (no buddy+offline); ${flag}`
          : `page-type scheme '${pt.scheme}' cannot encode buddy+offline; ${flag}`;
  }
  d.offline = pt.values.offline !== undefined;
  if (!d.offline) c.undecidable.offline = 'NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE) not exported';
  d.hwpoison = flags.hwpoison !== undefined;
  if (!d.hwpoison) c.undecidable.hwpoison = 'NUMBER(PG_hwpoison) not exported';
  d.slab = flags.slab !== undefined || pt.values.slab !== undefined;
  if (!d.slab) c.undecidable.slab = 'neither NUMBER(PG_slab) nor NUMBER(PAGE_SLAB_MAPCOUNT_VALUE) exported';
  d.hugetlb = compound.hugetlbBy !== null && flags.headMask !== 0n;
  if (!d.hugetlb) c.undecidable.hugetlb = 'no hugetlb marker (PAGE_HUGETLB_MAPCOUNT_VALUE, PG_hugetlb, HUGETLB_PAGE_DTOR) or PG_head_mask exported';
  if (flags.headMask === 0n) c.warnings.push('VMCOREINFO lacks NUMBER(PG_head_mask): compound pages are decided page by page');
  c.decidedBy = decidingKeys(c, vi, compound);
  if (compound.orderBy === null && flags.headMask !== 0n) c.warnings.push('no compound order available: compound heads are treated as order 0');
}

/** The keys that decide each decidable class of this dump (for `info` and the report). */
export function decidingKeys(c: ClassSummary, vi: Vmcoreinfo, compound: CompoundDecoder): Partial<Record<PageClassName, string[]>> {
  const has = (...ks: string[]) => ks.filter((k) => vi.has(k));
  const keys: Partial<Record<PageClassName, string[]>> = {
    free:
      c.freePagesBy === 'page_type'
        ? has('NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)', 'OFFSET(page._mapcount)', 'OFFSET(page.private)', 'NUMBER(PAGE_UNACCEPTED_MAPCOUNT_VALUE)', 'LENGTH(zone.free_area)')
        : c.freePagesBy === 'free_lists'
          ? has('SYMBOL(node_data)', 'SYMBOL(contig_page_data)', 'OFFSET(zone.free_area)', 'OFFSET(free_area.free_list)', 'OFFSET(list_head.next)', 'OFFSET(page.lru)', 'LENGTH(zone.free_area)')
          : [],
    hinted: [
      ...(c.pageTypes?.canEncodeHinted ? has('NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)', 'NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)') : []),
      ...reportedKeys(c.reported),
    ],
    offline: has('NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)'),
    hwpoison: has('NUMBER(PG_hwpoison)'),
    cache: has('NUMBER(PG_lru)', 'NUMBER(PG_swapcache)', 'NUMBER(PG_swapbacked)'),
    cache_private: has('NUMBER(PG_lru)', 'NUMBER(PG_private)'),
    user: has('OFFSET(page.mapping)', 'NUMBER(PG_lru)'),
    hugetlb: [...(compound.hugetlbBy ? [compound.hugetlbBy] : []), ...has('NUMBER(PG_head_mask)'), ...(compound.orderBy ? [compound.orderBy] : [])],
    slab: has('NUMBER(PG_slab)', 'NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)'),
    kernel: [...has('SIZE(page)', 'OFFSET(page.flags)'), ...(c.memMap?.decidedBy ?? [])],
    no_struct_page: [...(c.memMap?.decidedBy ?? [])],
  };
  const out: Partial<Record<PageClassName, string[]>> = {};
  for (const [k, v] of Object.entries(keys) as [PageClassName, string[]][]) if (c.decidable[k]) out[k] = v;
  return out;
}

/**
 * The inputs that decide PG_reported, as `decidedBy.hinted` names them: the exported numbers
 * of the layout, or the option.
 */
export function reportedKeys(r: ReportedBitDecision | null): string[] {
  if (r === null || r.bit === null) return [];
  return r.by === 'option' ? [`--reported-bit ${r.bit}`] : r.keys.map((k) => k.replace(/=.*/, ''));
}

/** Flag bits when pageFlagBitsFromVmcoreinfo refuses: missing bits are -1 (never match). */
export function lenientFlagBits(vi: Vmcoreinfo): PageFlagBits {
  const bit = (n: string) => {
    const v = vi.numberAsInt(n);
    return v !== undefined && v >= 0 && v < 64 ? v : undefined;
  };
  const lru = bit('PG_lru');
  const priv = bit('PG_private');
  const swapcache = bit('PG_swapcache');
  const all = lru !== undefined && priv !== undefined && swapcache !== undefined;
  return {
    lru: all ? lru : -1,
    private: all ? priv : -1,
    swapcache: all ? swapcache : -1,
    swapbacked: bit('PG_swapbacked'),
    slab: bit('PG_slab'),
    hwpoison: bit('PG_hwpoison'),
    headMask: vi.number('PG_head_mask') ?? 0n,
  };
}

