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
  otherFlags: { reserved: number; uptodate: number; referenced: number; dirty: number; active: number; head: number };
  /** Exported page-type values (int32), by type. */
  pageTypes: Partial<Record<PageTypeName, number>>;
  /** Compound destructor ids (≤ 6.2: page[1].compound_dtor). */
  compoundDtor: { compound: number; hugetlb: number; transhuge: number };
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

/** All profiles by name. */
export const PROFILES: Record<string, KernelProfile> = {
  [LINUX_6_0.name]: LINUX_6_0,
};
