/**
 * Kernel profiles: one simulated kernel generation each — its struct page layout, page flag
 * bits, page-type values and mm structure offsets. The simulator builds images from a profile
 * and writes its VMCOREINFO from it; the decoder never reads a profile (it reads VMCOREINFO),
 * but its tests compare against them.
 */
import type { PageFlagBits, StructPageLayout, ZoneLayout } from './layout.js';
import type { PageTypeName } from './pagetype.js';

export interface KernelProfile {
  name: string;
  osrelease: string;
  version: string;
  layout: StructPageLayout;
  /** Exported flag bits (VMCOREINFO NUMBER(PG_*)). */
  flags: PageFlagBits;
  /** Flag bits the kernel has but does not export; the simulator sets them for realism. */
  otherFlags: { reserved: number; uptodate: number; referenced: number; dirty: number; active: number; head: number; swapbacked?: number };
  /** Exported page-type values (int32), by type. */
  pageTypes: Partial<Record<PageTypeName, number>>;
  /** Compound destructor ids (≤ 6.5: page[1].compound_dtor / folio._folio_dtor). */
  compoundDtor: { compound: number; hugetlb: number; transhuge: number };
  /**
   * Where a compound page keeps its order and hugetlb-ness (FORMATS.md §4.4):
   * order: 'page' = u8 at OFFSET(page.compound_order) of page[1]; 'folio' = the same byte
   * exported as OFFSET(folio._folio_order) (6.3–6.5); 'flags' = page[1].flags & 0xff (6.6+).
   * hugetlb: 'dtor' = NUMBER(HUGETLB_PAGE_DTOR) in page[1]; 'flag' = NUMBER(PG_hugetlb) in
   * page[1].flags (6.6–6.8); 'page-type' = the head's page type (6.9+).
   */
  compound: { order: 'page' | 'folio' | 'flags'; hugetlb: 'dtor' | 'flag' | 'page-type' };
  /** NUMBER(PG_hugetlb) (6.6–6.8 only). */
  pgHugetlb?: number;
  /**
   * Page-type values the kernel writes but does not export (sentinel buddy before 3.9,
   * the 4.14 balloon sentinel): the simulator encodes them, a decoder cannot know them.
   */
  hiddenPageTypes?: Partial<Record<PageTypeName, number>>;
  /**
   * How this kernel can mark a free block reported to the hypervisor: 'combined' = buddy and
   * offline bits cleared at once (inverted scheme); 'pg-reported' = PG_reported (= PG_uptodate)
   * on a buddy head, the only way in the top-byte scheme; 'none' = no page reporting (< 5.7)
   * and no way to encode it.
   */
  hinting: 'combined' | 'pg-reported' | 'none';
  /** The kernel accepts memory lazily: MAX_ORDER blocks of unaccepted memory exist (6.5+ TDX/SNP guests). */
  unaccepted?: boolean;
  /** Optional VMCOREINFO keys of this era (FORMATS.md §2.3). */
  keys: {
    buildId: boolean;
    /** NUMBER(SECTION_SIZE_BITS) and NUMBER(MAX_PHYSMEM_BITS). */
    sectionBits: boolean;
    /** NUMBER(VMALLOC_START) and SYMBOL(vmemmap) instead of SYMBOL(vmap_area_list). */
    vmallocStart: boolean;
    /** NUMBER(pgtable_l5_enabled) (4.17+). */
    l5Export: boolean;
  };
  zone: ZoneLayout;
  /** SIZE(mem_section). */
  memSectionSize: number;
  /** SIZE(mem_section) layout: offset of section_mem_map. */
  memSectionMapOffset: number;
  /** OFFSET(uts_namespace.name). */
  utsNameOffset: number;
}

/**
 * Linux 6.0 on x86_64 (values as in a real 6.x VMCOREINFO, FORMATS.md Appendix A; page flag
 * numbers per 6.0's enum pageflags with CONFIG_ARCH_USES_PG_UNCACHED and CONFIG_MEMORY_FAILURE).
 */
export const LINUX_6_0: KernelProfile = {
  name: 'linux-6.0',
  osrelease: '6.0.19-vmcore-filter-sim',
  version: '#1 SMP PREEMPT_DYNAMIC Thu Jan 12 10:00:00 UTC 2023',
  layout: {
    size: 64,
    flags: 0,
    lru: 8,
    compoundHead: 8,
    mapping: 24,
    private: 40,
    mapcount: 48,
    refcount: 52,
    compoundDtor: 16,
    compoundOrder: 17,
  },
  flags: { lru: 4, private: 13, swapcache: 10, swapbacked: 19, slab: 9, hwpoison: 23, headMask: 1n << 16n },
  otherFlags: { reserved: 12, uptodate: 2, referenced: 1, dirty: 3, active: 5, head: 16 },
  pageTypes: { buddy: -129, offline: -257 },
  compoundDtor: { compound: 1, hugetlb: 2, transhuge: 3 },
  compound: { order: 'page', hugetlb: 'dtor' },
  hinting: 'combined',
  keys: { buildId: true, sectionBits: true, vmallocStart: false, l5Export: true },
  zone: {
    pglistDataSize: 175168,
    zoneSize: 1728,
    freeAreaSize: 104,
    listHeadSize: 16,
    nodemaskSize: 128,
    nodeZones: 0,
    nrZones: 172512,
    nodeStartPfn: 172520,
    nodeSpannedPages: 172536,
    nodeId: 172544,
    zoneFreeArea: 256,
    zoneVmStat: 1536,
    zoneSpannedPages: 144,
    freeAreaFreeList: 0,
    listHeadNext: 0,
    listHeadPrev: 8,
    nrOrders: 11,
    nrMigrateTypes: 6,
  },
  memSectionSize: 16,
  memSectionMapOffset: 0,
  utsNameOffset: 0,
};

/*
 * The other generations. Struct page offsets: 4.18 rearranged struct page (Wilcox's
 * "mm: rearrange struct page" series) so that flags/lru/mapping/private/_mapcount/_refcount
 * sit at 0/8/24/40/48/52 on x86_64 from then on; 4.14 keeps the older union layout (mapping at 8,
 * _mapcount/_refcount at 24/28, lru and compound_head at 32, compound_dtor/order at 40/44 —
 * `unsigned int` each on 64-bit until Wilcox's "mm: Store compound_dtor / compound_order as
 * bytes" (pahole 40/4, 44/4 → 40/1, 41/1; makedumpfile reads u16 there before 4.16, so
 * bytes at 40/41 made it miss every hugetlb page, seen in
 * test/interop/generations-makedumpfile.test.ts) — private at 48). Page flag numbers follow
 * each era's `enum pageflags` for an x86_64 config with CONFIG_MMU, CONFIG_ARCH_USES_PG_UNCACHED
 * (until its removal), CONFIG_MEMORY_FAILURE and 64-bit idle page tracking:
 *  - 4.14: locked, error, referenced, uptodate, dirty, lru, active, waiters, slab,
 *    owner_priv_1 (= swapcache), arch_1, reserved, private, private_2, writeback, head, …,
 *    swapbacked 18, …, hwpoison 22 — checked against torvalds/linux include/linux/page-flags.h
 *    @d483da5b (4.18 era, which adds PG_workingset after PG_active; 4.14 has it not).
 *  - 5.4 … 6.5: as LINUX_6_0 (workingset at 6, error moved after waiters; Appendix A's 6.2
 *    VMCOREINFO shows the same numbers).
 *  - 6.6+: Linux commit ("mm: Rearrange page flags", Wilcox, 2023, the series that moved the
 *    folio order into page[1].flags) puts writeback at 1 and head at 6 so that the order byte
 *    of the first tail page never sets PG_head: locked, writeback, referenced, uptodate, dirty,
 *    lru, head, waiters, active, workingset, error, slab, owner_priv_1, arch_1, reserved,
 *    private, private_2, mappedtodisk, reclaim, swapbacked, unevictable, mlocked, uncached,
 *    hwpoison (read in the patch as posted to linux-mm, Aug 2023). PG_hugetlb = PG_active
 *    (8) in page[1] until Linux commit d99e3140a4d3 ("mm: turn folio_test_hugetlb into a
 *    PageType", 6.9; read in its 6.8-stable copy, which also shows NUMBER(PG_hugetlb) and
 *    PAGE_OFFLINE inside #ifdef CONFIG_HUGETLB_PAGE before it).
 *  - 6.10/6.11: PG_slab gone (Linux commit 46df8e73a4a3 ("mm: free up PG_slab")): every bit
 *    after PG_error moves down by one. Derived, not read at the tag.
 *  - 6.12: PG_error gone, PG_owner_2 after owner_priv_1 (PG_mappedtodisk an alias of it).
 *    Derived from the ≥6.15 enum minus PG_dropbehind, plus PG_uncached; not read at the tag.
 *  - 6.16: the ≥6.15 enum as read in a public copy of page-flags.h (PG_dropbehind, no
 *    PG_uncached): lru 5, head 6, private 14, swapbacked 17, hwpoison 21.
 * Page-type values (FORMATS.md §3.3–3.4): 6.11's base-0x80000000 bits (buddy 0x40000000,
 * offline 0x20000000, hugetlb 0x04000000, slab 0x02000000) were checked in the mm patches
 * that introduced them ("mm: allow reuse of the lower 16 bit of the page type with an actual
 * type", Hildenbrand, and the follow-up enum conversion that still lists them) — not at the
 * v6.11 tag, which the available sources do not hold.
 * Zone and pglist_data offsets are 6.0's for every profile: the free-list walk reads them from
 * VMCOREINFO, so only their consistency matters.
 */
const MODERN_LAYOUT: StructPageLayout = LINUX_6_0.layout;
const FOLIO_FLAGS_LAYOUT: StructPageLayout = { ...MODERN_LAYOUT, compoundDtor: undefined, compoundOrder: undefined };
const L6_0_FLAGS = { flags: LINUX_6_0.flags, otherFlags: LINUX_6_0.otherFlags };
/** 6.6–6.9 numbering (after the 2023 rearrangement, PG_slab still a flag). */
const L6_6_FLAGS = {
  flags: { lru: 5, private: 15, swapcache: 12, swapbacked: 19, slab: 11, hwpoison: 23, headMask: 1n << 6n },
  otherFlags: { reserved: 14, uptodate: 3, referenced: 2, dirty: 4, active: 8, head: 6 },
};
/** 6.10–6.11: PG_slab removed. */
const L6_10_FLAGS = {
  flags: { lru: 5, private: 14, swapcache: 11, swapbacked: 18, hwpoison: 22, headMask: 1n << 6n },
  otherFlags: { reserved: 13, uptodate: 3, referenced: 2, dirty: 4, active: 8, head: 6 },
};
/** 6.12+: PG_error removed, PG_owner_2 added (and, by 6.15, PG_dropbehind in, PG_uncached out). */
const L6_12_FLAGS = {
  flags: { lru: 5, private: 14, swapcache: 10, swapbacked: 17, hwpoison: 21, headMask: 1n << 6n },
  otherFlags: { reserved: 13, uptodate: 3, referenced: 2, dirty: 4, active: 8, head: 6 },
};
const MODERN_KEYS = { buildId: true, sectionBits: true, vmallocStart: false, l5Export: true };
const V6_10_KEYS = { ...MODERN_KEYS, vmallocStart: true };

/**
 * Linux 4.14: sentinel page types (buddy −128 exported; the balloon sentinel −256 exists but is
 * not exported), PG_slab, HUGETLB_PAGE_DTOR and compound_dtor/order bytes in page[1], no
 * NUMBER(PG_swapbacked) (exported from 4.17), no BUILD-ID, SECTION_SIZE_BITS or
 * pgtable_l5_enabled exports; no free page reporting.
 */
export const LINUX_4_14: KernelProfile = {
  ...LINUX_6_0,
  name: 'linux-4.14',
  osrelease: '4.14.336-vmcore-filter-sim',
  version: '#1 SMP Wed Jan 10 10:00:00 UTC 2024',
  layout: { size: 64, flags: 0, mapping: 8, mapcount: 24, refcount: 28, lru: 32, compoundHead: 32, compoundDtor: 40, compoundOrder: 44, private: 48 },
  flags: { lru: 5, private: 12, swapcache: 9, slab: 8, hwpoison: 22, headMask: 1n << 15n },
  otherFlags: { reserved: 11, uptodate: 3, referenced: 2, dirty: 4, active: 6, head: 15, swapbacked: 18 },
  pageTypes: { buddy: -128 },
  hiddenPageTypes: { offline: -256 },
  compound: { order: 'page', hugetlb: 'dtor' },
  hinting: 'none',
  keys: { buildId: false, sectionBits: false, vmallocStart: false, l5Export: false },
};

/**
 * A kernel that exports no PAGE_BUDDY_MAPCOUNT_VALUE (as before Linux commit 8d67091ec6ae,
 * 3.9): free pages are found only by walking the zones' free lists. Synthetic: otherwise the
 * 4.14 generation (the real pre-3.9 struct page, without OFFSET(page.compound_head) and with
 * PG_tail, is not simulated).
 */
export const NO_BUDDY_EXPORT: KernelProfile = {
  ...LINUX_4_14,
  name: 'no-buddy-export',
  osrelease: '4.14.336-nobuddy-vmcore-filter-sim',
  pageTypes: {},
  hiddenPageTypes: { buddy: -128, offline: -256 },
};

/** Linux 5.4: inverted page types on base 0xf0000000 (buddy −129, offline −257 with CONFIG_HUGETLB_PAGE), PG_slab, compound dtor. */
export const LINUX_5_4: KernelProfile = {
  ...LINUX_6_0,
  ...L6_0_FLAGS,
  name: 'linux-5.4',
  osrelease: '5.4.268-vmcore-filter-sim',
  version: '#1 SMP Wed Jan 10 10:00:00 UTC 2024',
  keys: { buildId: false, sectionBits: false, vmallocStart: false, l5Export: true },
};

/** Linux 6.4: folio era: OFFSET(folio._folio_dtor/_folio_order) instead of page.compound_dtor/order (Linux commit 1c5509be58f6, 6.3). */
export const LINUX_6_4: KernelProfile = {
  ...LINUX_6_0,
  name: 'linux-6.4',
  osrelease: '6.4.16-vmcore-filter-sim',
  version: '#1 SMP PREEMPT_DYNAMIC Wed Sep 13 10:00:00 UTC 2023',
  compound: { order: 'folio', hugetlb: 'dtor' },
};

/**
 * Linux 6.8: the folio order in page[1].flags & 0xff and hugetlb as PG_hugetlb (= PG_active, 8)
 * in page[1].flags (Linux commit 9c5ccf2db04b ("mm: remove HUGETLB_PAGE_DTOR"), 6.6); the
 * 6.6 page-flag numbering.
 */
export const LINUX_6_8: KernelProfile = {
  ...LINUX_6_0,
  ...L6_6_FLAGS,
  name: 'linux-6.8',
  osrelease: '6.8.12-vmcore-filter-sim',
  version: '#1 SMP PREEMPT_DYNAMIC Thu May 30 10:00:00 UTC 2024',
  layout: FOLIO_FLAGS_LAYOUT,
  compound: { order: 'flags', hugetlb: 'flag' },
  pgHugetlb: 8,
};

/** Linux 6.10: hugetlb (6.9) and slab (6.10) are page types −2049 / −4097; no NUMBER(PG_slab). */
export const LINUX_6_10: KernelProfile = {
  ...LINUX_6_8,
  ...L6_10_FLAGS,
  name: 'linux-6.10',
  osrelease: '6.10.14-vmcore-filter-sim',
  version: '#1 SMP PREEMPT_DYNAMIC Thu Oct 10 10:00:00 UTC 2024',
  pageTypes: { buddy: -129, offline: -257, hugetlb: -2049, slab: -4097 },
  compound: { order: 'flags', hugetlb: 'page-type' },
  pgHugetlb: undefined,
  keys: V6_10_KEYS,
};

/** Linux 6.11: inverted page types on base 0x80000000 (buddy ~0x40000000 …). */
export const LINUX_6_11: KernelProfile = {
  ...LINUX_6_10,
  name: 'linux-6.11',
  osrelease: '6.11.11-vmcore-filter-sim',
  version: '#1 SMP PREEMPT_DYNAMIC Thu Dec 5 10:00:00 UTC 2024',
  pageTypes: { buddy: ~0x40000000, offline: ~0x20000000, hugetlb: ~0x04000000, slab: ~0x02000000 },
};

const pgty = (t: number) => (t << 24) | 0;

/**
 * Linux 6.12: one type per page in the top byte (Linux commit 4ffca5a96678c ("mm: support only
 * one page_type per page")): buddy 0xf0, offline 0xf1, hugetlb 0xf4, slab 0xf5. Buddy & offline
 * cannot be encoded: reported free pages carry PG_reported (= PG_uptodate) instead.
 */
export const LINUX_6_12: KernelProfile = {
  ...LINUX_6_10,
  ...L6_12_FLAGS,
  name: 'linux-6.12',
  osrelease: '6.12.48-vmcore-filter-sim',
  version: '#1 SMP PREEMPT_DYNAMIC Thu Sep 18 10:00:00 UTC 2025',
  pageTypes: { buddy: pgty(0xf0), offline: pgty(0xf1), hugetlb: pgty(0xf4), slab: pgty(0xf5) },
  hinting: 'pg-reported',
};

/**
 * Linux 6.16 with CONFIG_UNACCEPTED_MEMORY: the top-byte scheme plus
 * NUMBER(PAGE_UNACCEPTED_MAPCOUNT_VALUE) (PGTY_unaccepted 0xf7); memory not yet accepted sits
 * in MAX_ORDER blocks whose first page carries the type.
 */
export const LINUX_6_16: KernelProfile = {
  ...LINUX_6_12,
  name: 'linux-6.16',
  osrelease: '6.16.7-vmcore-filter-sim',
  version: '#1 SMP PREEMPT_DYNAMIC Thu Sep 11 10:00:00 UTC 2025',
  pageTypes: { ...LINUX_6_12.pageTypes, unaccepted: pgty(0xf7) },
  unaccepted: true,
};

/** All profiles by name, oldest first. */
export const PROFILES: Record<string, KernelProfile> = Object.fromEntries(
  [NO_BUDDY_EXPORT, LINUX_4_14, LINUX_5_4, LINUX_6_0, LINUX_6_4, LINUX_6_8, LINUX_6_10, LINUX_6_11, LINUX_6_12, LINUX_6_16].map((p) => [p.name, p]),
);

/** Profile names, oldest first. */
export const PROFILE_NAMES: readonly string[] = Object.keys(PROFILES);

