/**
 * Where PG_uptodate sits in page->flags, decided from the `NUMBER(PG_*)` numbers a dump's
 * VMCOREINFO exports — never from OSRELEASE. PG_uptodate matters to a dump filter because free
 * page reporting (Linux commit 36e66c554b5c ("mm: introduce Reported pages"), 5.7) marks a
 * reported buddy block by setting `PG_reported = PG_uptodate` on its first page
 * (`__SetPageReported(page)` in mm/page_reporting.c): the whole 2^order block has been handed
 * to the hypervisor. The kernel does not export PG_uptodate (nor PG_reported), so its position
 * is inferred from the layout of `enum pageflags` that the exported numbers identify.
 *
 * The known layouts on x86_64 (CONFIG_MMU; the config-dependent flags PG_mlocked, PG_uncached,
 * PG_dropbehind sit between PG_unevictable and PG_hwpoison, so PG_hwpoison is checked against a
 * window, every other exported number exactly):
 *
 * | layout | kernels | uptodate | lru | head | private | swapcache | swapbacked | slab | hugetlb | hwpoison |
 * | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
 * | `4.10-4.19` | PG_waiters at 7, PG_error at 1 | 3 | 5 | 15 | 12 | 9 | 18 | 8 | — | 20–22 |
 * | `4.20-6.5` | PG_workingset added, PG_error after PG_waiters | 2 | 4 | 16 | 13 | 10 | 19 | 9 | — | 21–23 |
 * | `6.6-6.9` | Linux commit c704ae979784 ("mm: rearrange page flags") | 3 | 5 | 6 | 15 | 12 | 19 | 11 | 8 (6.6–6.8) | 21–23 |
 * | `6.10-6.11` | Linux commit 46df8e73a4a3 ("mm: free up PG_slab") | 3 | 5 | 6 | 14 | 11 | 18 | — | — | 20–22 |
 * | `6.12+` | PG_error gone, PG_owner_2 after PG_owner_priv_1 | 3 | 5 | 6 | 14 | 10 | 17 | — | — | 19–22 |
 *
 * Sources: torvalds/linux include/linux/page-flags.h @d483da5b (the 4.20–6.5 enum); the patch
 * "mm: Rearrange page flags" as posted to linux-mm (Aug 2023; c704ae979784 in the MM pull for
 * 6.6-rc1: PG_writeback to 1, PG_head to 6, PG_active/PG_workingset to 8/9); public copies of
 * the ≥6.12 enum (PG_owner_2, no PG_error/PG_slab/PG_mappedtodisk). Checked on real kernels by
 * disassembling crash_save_vmcoreinfo_init: Debian 6.1.0-57 exports PG_lru=4, PG_private=13,
 * PG_swapcache=10, PG_swapbacked=19, PG_slab=9, PG_hwpoison=23, PG_head_mask=0x10000 (the
 * Fedora 6.2.15 sample of FORMATS.md Appendix A the same); Debian 6.12.118 PG_lru=5,
 * PG_private=14, PG_swapcache=10, PG_swapbacked=17, PG_hwpoison=20, PG_head_mask=0x40. The 4.x
 * layout (as 4.14) predates free page reporting: no buddy page carries the bit there unless a
 * distribution backported reporting, which would use the same PG_uptodate.
 */
import type { Vmcoreinfo } from '../vmcoreinfo/parse.js';

/** One `enum pageflags` layout, as the exported numbers see it. */
export interface PageFlagsLayout {
  name: string;
  /** The kernel change that introduced it, as cited in comments and in `info`. */
  since: string;
  uptodate: number;
  /**
   * Exported NUMBER(...) values by key name (without NUMBER()): a number must match exactly,
   * `[min, max]` must contain the value, `null` means the kernel exports no such key.
   * Keys not listed are not checked.
   */
  exports: Record<string, number | [number, number] | null>;
}

/** The keys a decision reads, in the order they are named. */
export const PAGE_FLAG_KEYS = ['PG_lru', 'PG_head_mask', 'PG_private', 'PG_swapcache', 'PG_swapbacked', 'PG_slab', 'PG_hugetlb', 'PG_hwpoison'] as const;

/** Keys a decision needs at least: they bracket PG_uptodate in every layout. */
const REQUIRED = ['PG_lru', 'PG_head_mask'] as const;

/** The known layouts, oldest first (see the module comment). */
export const PAGE_FLAGS_LAYOUTS: readonly PageFlagsLayout[] = [
  {
    name: '4.10-4.19',
    since: 'Linux 4.10 (PG_waiters at bit 7, PG_error at 1)',
    uptodate: 3,
    exports: { PG_lru: 5, PG_head_mask: 2 ** 15, PG_private: 12, PG_swapcache: 9, PG_swapbacked: 18, PG_slab: 8, PG_hugetlb: null, PG_hwpoison: [20, 22] },
  },
  {
    name: '4.20-6.5',
    since: 'Linux 4.20 (PG_workingset, PG_error after PG_waiters)',
    uptodate: 2,
    exports: { PG_lru: 4, PG_head_mask: 2 ** 16, PG_private: 13, PG_swapcache: 10, PG_swapbacked: 19, PG_slab: 9, PG_hugetlb: null, PG_hwpoison: [21, 23] },
  },
  {
    name: '6.6-6.9',
    since: 'Linux commit c704ae979784 ("mm: rearrange page flags", 6.6)',
    uptodate: 3,
    exports: { PG_lru: 5, PG_head_mask: 2 ** 6, PG_private: 15, PG_swapcache: 12, PG_swapbacked: 19, PG_slab: 11, PG_hugetlb: 8, PG_hwpoison: [21, 23] },
  },
  {
    name: '6.10-6.11',
    since: 'Linux commit 46df8e73a4a3 ("mm: free up PG_slab", 6.10)',
    uptodate: 3,
    exports: { PG_lru: 5, PG_head_mask: 2 ** 6, PG_private: 14, PG_swapcache: 11, PG_swapbacked: 18, PG_slab: null, PG_hugetlb: null, PG_hwpoison: [20, 22] },
  },
  {
    name: '6.12+',
    since: 'Linux 6.12 (PG_error removed, PG_owner_2 added)',
    uptodate: 3,
    exports: { PG_lru: 5, PG_head_mask: 2 ** 6, PG_private: 14, PG_swapcache: 10, PG_swapbacked: 17, PG_slab: null, PG_hugetlb: null, PG_hwpoison: [19, 22] },
  },
];

/** How the PG_reported (= PG_uptodate) bit of this dump was decided, or why it was not. */
export type ReportedBitDecision =
  | {
      /** page->flags bit of PG_reported. */
      bit: number;
      by: 'vmcoreinfo';
      /** The layout(s) the exported numbers match (several only when they agree on the bit). */
      layouts: string[];
      /** The kernel change of the (first) matching layout. */
      since: string;
      /** The exported numbers that decided it, `NUMBER(PG_lru)=5` style. */
      keys: string[];
    }
  | { bit: number; by: 'option' }
  | { bit: null; by: 'option' }
  | {
      bit: null;
      by: 'unknown';
      /** Why: missing keys, or the numbers that match no layout. */
      why: string;
      /** The keys concerned (missing or mismatching), NUMBER(...) style. */
      keys: string[];
    };

const key = (n: string) => `NUMBER(${n})`;

/**
 * Decide the PG_uptodate bit from the exported `NUMBER(PG_*)` values: every exported key of
 * {@link PAGE_FLAG_KEYS} must match one known layout (or several that agree on the bit), and
 * PG_lru and PG_head_mask must be exported (`layouts`: the table, replaceable for tests). Otherwise the decision is `unknown`, naming the
 * keys, and no page is taken for reported.
 */
export function decideReportedBit(vi: Vmcoreinfo, layouts: readonly PageFlagsLayout[] = PAGE_FLAGS_LAYOUTS): ReportedBitDecision {
  const missing = REQUIRED.filter((n) => !vi.has(key(n)));
  if (missing.length) {
    return { bit: null, by: 'unknown', why: `${missing.map(key).join(', ')} not exported`, keys: missing.map(key) };
  }
  const exported = PAGE_FLAG_KEYS.filter((n) => vi.has(key(n)));
  const value = (n: string): number | undefined => {
    const v = vi.number(n);
    return v === undefined || v < 0n || v > 2n ** 52n ? undefined : Number(v);
  };
  const fits = (l: PageFlagsLayout, n: string): boolean => {
    const want = l.exports[n];
    if (want === undefined) return true;
    const v = value(n);
    if (want === null || v === undefined) return false;
    return typeof want === 'number' ? v === want : v >= want[0] && v <= want[1];
  };
  const shown = exported.map((n) => `${key(n)}=${vi.raw(key(n))}`);
  const matching = layouts.filter((l) => exported.every((n) => fits(l, n)));
  if (matching.length === 0) {
    return {
      bit: null,
      by: 'unknown',
      why: `${shown.join(', ')} match no known enum pageflags layout`,
      keys: exported.map(key),
    };
  }
  const bits = new Set(matching.map((l) => l.uptodate));
  if (bits.size > 1) {
    return {
      bit: null,
      by: 'unknown',
      why: `${shown.join(', ')} fit layouts ${matching.map((l) => l.name).join(' and ')}, which disagree (PG_uptodate ${[...bits].join(' or ')})`,
      keys: exported.map(key),
    };
  }
  return {
    bit: matching[0]!.uptodate,
    by: 'vmcoreinfo',
    layouts: matching.map((l) => l.name),
    since: matching[0]!.since,
    keys: shown,
  };
}

/** One line saying how the bit was decided (for `info` and the filter report). */
export function describeReportedBit(d: ReportedBitDecision): string {
  switch (d.by) {
    case 'vmcoreinfo':
      return `PG_reported = PG_uptodate = bit ${d.bit}, decided by ${d.keys.join(', ')} (enum pageflags layout ${d.layouts.join(' / ')}: ${d.since})`;
    case 'option':
      return d.bit === null ? 'PG_reported not tested (--reported-bit none)' : `PG_reported = bit ${d.bit}, from --reported-bit`;
    case 'unknown':
      return `PG_uptodate position unknown: ${d.why}`;
  }
}
