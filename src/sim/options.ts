/** Options of the simulator (re-exported from index.ts). */

/** Fractions and knobs of the simulated workload. Fractions are of the pages freed at boot. */
export interface Workload {
  /** Kernel allocations holding data (alloc_pages for drivers, page tables, buffers…). */
  kernel: number;
  /** Kernel allocations that are all zero (the "zero" class). */
  kernelZero: number;
  /** Slab pages (order 0, or compound orders 1–3). */
  slab: number;
  /** Page-cache pages (order 0). */
  cache: number;
  /** Fraction of page-cache pages with PG_private (buffer heads). */
  cachePrivate: number;
  /** Anonymous pages, including THP and swap cache. */
  anon: number;
  /** Fraction of anonymous memory in order-9 THPs. */
  thp: number;
  /** Fraction of order-0 anonymous pages that are in the swap cache. */
  swapcache: number;
  /** Hugetlb pool (order 9), in use and free. */
  hugetlb: number;
  /** Fraction of the hugetlb pool that is free (still hugetlb compound pages). */
  hugetlbFree: number;
  /** Order-0 pages taken by a balloon driver (PageOffline). */
  balloon: number;
  /** 2 MiB ranges unplugged by virtio-mem (PageOffline, zero). */
  virtioMem: number;
  /** Number of single hwpoisoned pages. */
  hwpoison: number;
  /** Fraction of freeable allocations freed again after allocation (fragmentation). */
  churn: number;
  /** Fraction of free blocks of order ≥ 9 reported to the hypervisor (hinted). */
  hinted: number;
}

export const DEFAULT_WORKLOAD: Workload = {
  kernel: 0.05,
  kernelZero: 0.01,
  slab: 0.04,
  cache: 0.22,
  cachePrivate: 0.25,
  anon: 0.14,
  thp: 0.3,
  swapcache: 0.1,
  hugetlb: 0.03,
  hugetlbFree: 0.4,
  balloon: 0.02,
  virtioMem: 0.02,
  hwpoison: 3,
  churn: 0.25,
  hinted: 0.4,
};

/** How a free block the hypervisor was told about is marked. */
export type HintedStyle = 'combined' | 'pg-reported';

export interface SimOptions {
  /** Seed of every random choice; default 1. */
  seed: number;
  /** RAM size in bytes, default 512 MiB; 64 MiB .. 64 GiB (rounded down to 2 MiB). */
  memBytes: number;
  /** Architecture (default x86_64; absent from the defaults so x86_64 outputs stay as they were). */
  arch?: 'x86_64' | 'arm64';
  /** Page size: 4096 (default), or 16384 / 65536 on arm64. */
  pageSize?: number;
  /** arm64 CONFIG_ARM64_VA_BITS, all in use: 48 (default) or 52 (LPA2 with 4/16 KiB pages, 52-bit PA with 64 KiB). */
  vaBits?: number;
  /** 5-level paging (NUMBER(pgtable_l5_enabled)=1, MAX_PHYSMEM_BITS 52). */
  l5: boolean;
  /** Randomised PAGE_OFFSET / vmemmap base / kernel text VA / phys_base (seeded). */
  kaslr: boolean;
  /**
   * combined: reported blocks' head `_mapcount` = BUDDY & OFFLINE (-385);
   * pg-reported: head stays -129 and PG_uptodate (PG_reported, bit 2) is set.
   */
  hintedStyle: HintedStyle;
  /** Number of NT_PRSTATUS notes, default 2. */
  cpus: number;
  /** Kernel profile name, default 'linux-6.0'. */
  profile?: string;
  /** Kernel generation to simulate (a profile name of src/mm/profiles.ts); overrides `profile`. */
  kernel?: string;
  /** Content of free pages: stale non-zero junk (default) or zero. */
  freeContent?: 'stale' | 'zero';
  /** Workload knobs; missing ones take {@link DEFAULT_WORKLOAD}. */
  scenario?: Partial<Workload>;
  /** Kernel log format: the 5.10+ lockless ring buffer (default) or the 3.5–5.9 `log_buf`. */
  printk?: 'lockless' | 'log_buf';
  /** CONFIG_LOG_BUF_SHIFT of the static buffer, 12..18 (default 17: 128 KiB text, 4096 descriptors). */
  logBufShift?: number;
  /** The `log_buf_len=` boot parameter: the log lives in memblock buffers of this size (power of two). */
  logBufLen?: number;
  /**
   * x86_64: more RAM at a high physical address (CXL, persistent memory, a hot-plugged range),
   * e.g. { start: 60 TiB, bytes: 64 MiB }: present sections with struct pages in the vmemmap,
   * in ZONE_NORMAL, free to the buddy allocator (boot allocations stay in the boot RAM).
   */
  highMem?: { start: number; bytes: number };
}

export const DEFAULT_OPTIONS: SimOptions = {
  seed: 1,
  memBytes: 512 * 2 ** 20,
  l5: false,
  kaslr: false,
  hintedStyle: 'combined',
  cpus: 2,
  profile: 'linux-6.0',
  freeContent: 'stale',
};

/** Fill defaults. */
export function resolveOptions(opts: Partial<SimOptions>): SimOptions {
  const o: SimOptions = { ...DEFAULT_OPTIONS, ...stripUndefined(opts) };
  o.scenario = { ...DEFAULT_WORKLOAD, ...stripUndefined(opts.scenario ?? {}) };
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
