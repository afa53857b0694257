/**
 * The simulated machine: boot (memblock, sparse mem_map, page tables, pglist_data), the buddy
 * allocator, a seeded workload and free page hinting. Pure state, no I/O: the image writer and
 * the ground truth are both computed from it.
 */
import { VmcoreError } from '../errors.js';
import { PROFILES, type KernelProfile } from '../mm/profiles.js';
import { BuddyAllocator, MAX_ORDER, MIGRATE, NR_MIGRATETYPES, PAGEBLOCK_ORDER, PAGE_STATE, arm64Zones, x86Zones } from './buddy.js';
import { ContentPool } from './content.js';
import { GiB, MiB, computeLayout, type SimLayout } from './layout.js';
import { Memblock } from './memblock.js';
import { DEFAULT_WORKLOAD, type SimOptions, type Workload } from './options.js';
import { PTE_4K_DATA, PTE_LARGE_DATA, PTE_LARGE_TEXT, PageTables } from './pagetables.js';
import { ARM64_DATA, ARM64_TEXT, Arm64PageTables } from './pagetables-arm64.js';
import { Rng } from './rng.js';
import { pfnBytes, type SectionArray } from './pfnstore.js';
import { hintingOf, takeUnacceptedBlocks } from './generation.js';
import { allocDynamicLogBuf, writePrintk, type DynamicLogBuf, type SimPrintk } from './printk.js';

/** What each pfn is. One byte per pfn. */
export const KIND = {
  /** A struct page exists but there is no RAM (tail of a partial section). */
  NOMEM: 0,
  /** memblock-reserved: low 1 MiB, kernel image, crashkernel, mem_map, page tables, boot allocations. */
  RESERVED: 1,
  FREE: 2,
  KERNEL: 3,
  KERNEL_ZERO: 4,
  SLAB: 5,
  CACHE: 6,
  CACHE_PRIVATE: 7,
  ANON: 8,
  SWAPCACHE: 9,
  THP: 10,
  HUGETLB: 11,
  HUGETLB_FREE: 12,
  BALLOON: 13,
  VIRTIO_MEM: 14,
  HWPOISON: 15,
  /** Memory not yet accepted (lazy acceptance, 6.5+ guests): a MAX_ORDER block outside the allocator. */
  UNACCEPTED: 16,
} as const;
export type Kind = (typeof KIND)[keyof typeof KIND];

/** aux byte: compound order (low 4 bits), head flag, hinted flag (free heads), variant bits. */
export const AUX = { ORDER: 0x0f, HEAD: 0x10, HINTED: 0x20, VAR1: 0x40, VAR2: 0x80 } as const;

/** Offsets of kernel-image symbols from `_text` (inside the 24 MiB image). */
export const SYMBOL_OFFSETS = {
  _stext: 0x0,
  vmap_area_list: 0x132ab10,
  init_top_pgt: 0x140a000,
  init_uts_ns: 0x1413160,
  node_data: 0x1470820,
  node_online_map: 0x1475760,
} as const;

/** arm64 swapper_pg_dir's offset from `_text`: 64 KiB aligned, clear of the other symbols. */
export const ARM64_SWAPPER_OFFSET = 0x1400000;

/** LENGTH(node_data) = MAX_NUMNODES (CONFIG_NODES_SHIFT=10). */
export const MAX_NUMNODES = 1024;

/** Pointer pools (direct-map addresses of kernel objects) struct pages point to. */
export interface ObjectPools {
  kmemCache: bigint[];
  anonVma: bigint[];
  addressSpace: bigint[];
  bufferHead: bigint[];
  balloon: bigint;
}

export interface Machine {
  opts: SimOptions;
  workload: Workload;
  profile: KernelProfile;
  layout: SimLayout;
  buddy: BuddyAllocator;
  /** KIND per pfn of the present sections (NOMEM elsewhere). */
  kind: SectionArray;
  /** AUX bits per pfn of the present sections. */
  aux: SectionArray;
  /** Pages whose content is given explicitly (page tables, mem_section, pglist_data, symbol pages). */
  structural: Map<number, Buffer>;
  /** Backing of each present section's struct pages: first pfn, by section number. */
  memmapBacking: Map<number, number>;
  /** (pfn >> 9) of a backing block → section number. */
  backingSection: Map<number, number>;
  /** Section mapped by 4 KiB PTEs in the vmemmap. */
  vmemmapPteSection: number;
  memblock: Memblock;
  pageTables: PageTables | Arm64PageTables;
  /** log2 of the pages per backing-lookup block (2 MiB): key of `backingSection` is pfn >> this. */
  backingShift: number;
  symbols: {
    _stext: bigint;
    init_top_pgt: bigint;
    init_uts_ns: bigint;
    node_online_map: bigint;
    node_data: bigint;
    vmap_area_list: bigint;
    mem_section: bigint;
    pgdat: bigint;
  };
  memSectionRoots: number;
  pools: ObjectPools;
  content: ContentPool;
  /** Zone index per pfn is derived from these; spanned 0 for an empty zone. */
  zoneNames: string[];
  buildId: string;
  crashTime: number;
  /** The kernel log (printk ring buffer or log_buf) and its VMCOREINFO lines. */
  printk?: SimPrintk;
}

/** Physical byte address → direct-map (linear-map) VA. */
export function directMap(m: { layout: SimLayout }, pa: number): bigint {
  return m.layout.pageOffset + BigInt(pa - m.layout.physOffset);
}
/** struct page VA of a pfn. */
export function pageVA(m: { layout: SimLayout; profile: KernelProfile }, pfn: number): bigint {
  return m.layout.vmemmap + BigInt(pfn) * BigInt(m.profile.layout.size);
}
/** Kernel-image symbol VA → physical. */
export function kernelPhys(m: { layout: SimLayout }, va: bigint): number {
  return Number(va - m.layout.kimageVoffset);
}

/** Build the machine (allocator state only, no I/O). */
export function buildMachine(opts: SimOptions): Machine {
  const { profile, workload, arch } = checkOptions(opts);
  const root = new Rng(opts.seed);
  const layout = computeLayout(opts.memBytes, opts.l5, opts.kaslr, root.fork(1), arch, opts.pageSize ?? 4096, profile.layout.size, opts.vaBits ?? 48, opts.highMem ?? null);
  const rng = root.fork(2);
  const boot = bootMemblock(layout, profile, opts, arch);
  const { buddy, kind, aux, zones } = bootBuddy(layout, boot.mb);
  const m: Machine = {
    opts,
    workload,
    profile,
    layout,
    buddy,
    kind,
    aux,
    structural: boot.structural,
    memmapBacking: boot.memmapBacking,
    backingSection: boot.backingSection,
    vmemmapPteSection: boot.vmemmapPteSection,
    memblock: boot.mb,
    pageTables: boot.pageTables,
    backingShift: boot.backingShift,
    symbols: boot.symbols,
    memSectionRoots: boot.memSectionRoots,
    pools: { kmemCache: [], anonVma: [], addressSpace: [], bufferHead: [], balloon: 0n },
    content: new ContentPool(opts.seed, layout.pageSize),
    zoneNames: zones.map((z) => z.name),
    buildId: Array.from({ length: 5 }, () => rng.u32().toString(16).padStart(8, '0')).join(''),
    crashTime: 1672531200 + (opts.seed % 100000) * 37,
  };

  for (const head of takeUnacceptedBlocks(profile, buddy, root.fork(0x16a))) kind.fill(KIND.UNACCEPTED, head, head + (1 << (MAX_ORDER - 1)));
  runWorkload(m, rng.fork(3));
  if (hintingOf(profile, opts) !== 'none') hintFreeBlocks(m, rng.fork(4));
  m.pools = makePools(m, rng.fork(5));
  writeKernelStructures(m, boot.pgdatPa, boot.pgdatPages);
  m.printk = writePrintk(m, (pa, bytes, zeroBase) => putPhys(m, pa, bytes, zeroBase), boot.dynLogBuf);
  return m;
}

/** What boot sets up from memblock before the buddy allocator takes over. */
interface Boot {
  mb: Memblock;
  structural: Map<number, Buffer>;
  symbols: Machine['symbols'];
  memSectionRoots: number;
  pgdatPa: number;
  pgdatPages: number;
  memmapBacking: Map<number, number>;
  backingSection: Map<number, number>;
  backingShift: number;
  vmemmapPteSection: number;
  pageTables: PageTables | Arm64PageTables;
  dynLogBuf: DynamicLogBuf | null;
}

/** memblock: what boot reserves, then allocates (in this order, which fixes every address). */
function bootMemblock(layout: SimLayout, profile: KernelProfile, opts: SimOptions, arch: 'x86_64' | 'arm64'): Boot {
  const PAGE_SIZE = layout.pageSize;
  const backingShift = Math.log2((2 * MiB) / PAGE_SIZE);
  const structural = new Map<number, Buffer>();
  const mb = new Memblock(layout.ram, layout.bootRam);
  mb.reserve(layout.low.start, layout.low.end, 'low 1 MiB');
  mb.reserve(layout.kernelPhys, layout.kernelPhys + layout.kernelBytes, 'kernel image');
  mb.reserve(layout.crashkernel.start, layout.crashkernel.end, 'crashkernel');

  const symbols = kernelSymbols(layout, arch);
  const { memSection, memSectionRoots } = writeMemSections(layout, profile, mb, structural);
  symbols.mem_section = memSection;

  // --- node 0's pglist_data
  const pgdatPages = Math.ceil(profile.zone.pglistDataSize / PAGE_SIZE);
  const pgdatPa = mb.alloc(pgdatPages * PAGE_SIZE, PAGE_SIZE, 'pglist_data');
  symbols.pgdat = directMap({ layout }, pgdatPa);
  const { memmapBacking, backingSection, sectionBytes } = allocMemmap(layout, profile.layout.size, mb, backingShift);

  // --- page tables rooted at init_top_pgt / swapper_pg_dir (inside the kernel image)
  const topPfn = kernelPhys({ layout }, symbols.init_top_pgt) / PAGE_SIZE;
  const allocTable = () => mb.alloc(PAGE_SIZE, PAGE_SIZE, 'page table') / PAGE_SIZE;
  const vmemmapPteSection = layout.presentSections[Math.min(1, layout.presentSections.length - 1)]!;
  const pageTables =
    arch === 'arm64'
      ? buildArm64Tables(layout, topPfn, allocTable, structural, memmapBacking, sectionBytes, vmemmapPteSection)
      : buildX86Tables(layout, new PageTables(layout.l5, topPfn, allocTable, structural), memmapBacking, sectionBytes, vmemmapPteSection);

  // --- log_buf_len=: setup_log_buf() moves the log to memblock buffers (only when asked, so
  // the default layout stays as it was)
  const dynLogBuf: DynamicLogBuf | null = opts.logBufLen ? allocDynamicLogBuf(mb, opts.logBufLen) : null;

  // --- other boot allocations (per-cpu areas, early tables): reserved, holding data
  for (let c = 0; c < opts.cpus; c++) mb.alloc(256 << 10, PAGE_SIZE, 'percpu');
  mb.alloc(64 * PAGE_SIZE, PAGE_SIZE, 'early boot data');
  return { mb, structural, symbols, memSectionRoots, pgdatPa, pgdatPages, memmapBacking, backingSection, backingShift, vmemmapPteSection, pageTables, dynLogBuf };
}

/** Kernel-image symbols at their offsets from `_text`; mem_section and pgdat are filled in when allocated. */
function kernelSymbols(layout: SimLayout, arch: 'x86_64' | 'arm64'): Machine['symbols'] {
  return {
    _stext: layout.text + BigInt(SYMBOL_OFFSETS._stext),
    // arm64 swapper_pg_dir: aligned to any granule (a 64 KiB table must not share its page)
    init_top_pgt: layout.text + BigInt(arch === 'arm64' ? ARM64_SWAPPER_OFFSET : SYMBOL_OFFSETS.init_top_pgt),
    init_uts_ns: layout.text + BigInt(SYMBOL_OFFSETS.init_uts_ns),
    node_online_map: layout.text + BigInt(SYMBOL_OFFSETS.node_online_map),
    node_data: layout.text + BigInt(SYMBOL_OFFSETS.node_data),
    vmap_area_list: layout.text + BigInt(SYMBOL_OFFSETS.vmap_area_list),
    mem_section: 0n,
    pgdat: 0n,
  };
}

/** The profile, workload and architecture of the options, or E_USAGE naming the bad one. */
function checkOptions(opts: SimOptions): { profile: KernelProfile; workload: Workload; arch: 'x86_64' | 'arm64' } {
  const profileName = opts.kernel ?? opts.profile ?? 'linux-6.0';
  const profile = PROFILES[profileName];
  if (!profile) {
    throw new VmcoreError('E_USAGE', `unknown kernel profile "${profileName}" (known: ${Object.keys(PROFILES).join(', ')})`, { option: 'kernel' });
  }
  const workload: Workload = { ...DEFAULT_WORKLOAD, ...(opts.scenario ?? {}) };
  if (!Number.isInteger(opts.cpus) || opts.cpus < 1 || opts.cpus > 512) {
    throw new VmcoreError('E_USAGE', `cpus must be 1..512, got ${opts.cpus}`, { option: 'cpus' });
  }
  const arch = opts.arch ?? 'x86_64';
  if (arch === 'arm64' && opts.l5) throw new VmcoreError('E_USAGE', '--l5 is an x86_64 option; arm64 has no 5-level tables at 48-bit VAs', { option: 'l5' });
  // The arm64 model is 6.12's VA layout and exports (flipped VA space, VMEMMAP_START at −1 GiB −
  // VMEMMAP_SIZE, the ranges in VMCOREINFO): truthful for the 6.x generations only.
  if (arch === 'arm64' && !/^6\./.test(profile.osrelease)) {
    throw new VmcoreError('E_USAGE', `--arch arm64 simulates Linux 6.x; ${profile.name} is older`, { option: 'kernel' });
  }
  if (arch === 'x86_64' && (opts.pageSize ?? 4096) !== 4096) {
    throw new VmcoreError('E_USAGE', `x86_64 pages are 4096 bytes, not ${opts.pageSize}`, { option: 'pageSize' });
  }
  return { profile, workload, arch };
}

/** SPARSEMEM_EXTREME: the mem_section root array and the pages of mem_section structs, one entry per present section. */
function writeMemSections(layout: SimLayout, profile: KernelProfile, mb: Memblock, structural: Map<number, Buffer>): { memSection: bigint; memSectionRoots: number } {
  const PAGE_SIZE = layout.pageSize;
  const sp = profile.layout.size;
  const partial = { layout };
  const sectionsPerRoot = PAGE_SIZE / profile.memSectionSize;
  const memSectionRoots = 2 ** (layout.maxPhysmemBits - layout.sectionSizeBits) / sectionsPerRoot;
  const rootBytes = memSectionRoots * 8;
  const rootPa = mb.alloc(Math.ceil(rootBytes / PAGE_SIZE) * PAGE_SIZE, PAGE_SIZE, 'mem_section root');
  for (let p = 0; p < Math.ceil(rootBytes / PAGE_SIZE); p++) structural.set(rootPa / PAGE_SIZE + p, Buffer.alloc(PAGE_SIZE));
  const rootPages = new Map<number, number>();
  for (const s of layout.presentSections) {
    const r = Math.floor(s / sectionsPerRoot);
    if (!rootPages.has(r)) {
      const pa = mb.alloc(PAGE_SIZE, PAGE_SIZE, 'mem_section');
      rootPages.set(r, pa);
      structural.set(pa / PAGE_SIZE, Buffer.alloc(PAGE_SIZE));
      const rootBuf = structural.get(rootPa / PAGE_SIZE + Math.floor((r * 8) / PAGE_SIZE))!;
      rootBuf.writeBigUInt64LE(directMap(partial, pa), (r * 8) % PAGE_SIZE);
    }
    const page = structural.get(rootPages.get(r)! / PAGE_SIZE)!;
    // section_mem_map = (mem_map − section_start_pfn·SIZE(page)) | PRESENT|HAS_MEM_MAP|ONLINE|EARLY
    const encoded = layout.vmemmap + BigInt(s * layout.pagesPerSection * sp) - BigInt(s * layout.pagesPerSection * sp);
    page.writeBigUInt64LE(encoded | 0xfn, (s % sectionsPerRoot) * profile.memSectionSize + profile.memSectionMapOffset);
  }
  return { memSection: directMap(partial, rootPa), memSectionRoots };
}

/** Struct page backing: 2 MiB per present section, top-down in boot memory. */
function allocMemmap(layout: SimLayout, sp: number, mb: Memblock, backingShift: number) {
  const PAGE_SIZE = layout.pageSize;
  const memmapBacking = new Map<number, number>();
  const backingSection = new Map<number, number>();
  const sectionBytes = layout.pagesPerSection * sp;
  for (const s of [...layout.presentSections].reverse()) {
    const pa = mb.alloc(sectionBytes, 2 * MiB, 'mem_map');
    memmapBacking.set(s, pa / PAGE_SIZE);
    for (let b = 0; b < sectionBytes / (2 * MiB); b++) backingSection.set((pa / PAGE_SIZE >> backingShift) + b, s);
  }
  return { memmapBacking, backingSection, sectionBytes };
}

/**
 * x86_64 tables: the direct map (1 GiB pages where a whole aligned GiB is RAM, 2 MiB elsewhere,
 * 4 KiB for the first 2 MiB), the kernel text with 2 MiB pages, the vmemmap with one 2 MiB page
 * per 2 MiB of struct pages, one section with 4 KiB PTEs.
 */
function buildX86Tables(layout: SimLayout, pt: PageTables, memmapBacking: Map<number, number>, sectionBytes: number, pteSection: number): PageTables {
  const PAGE_SIZE = layout.pageSize;
  for (const r of layout.ram) {
    let a = r.start;
    while (a < r.end) {
      const va = layout.pageOffset + BigInt(a);
      if (a < 2 * MiB) {
        pt.map(va, a, PAGE_SIZE, PTE_4K_DATA);
        a += PAGE_SIZE;
      } else if (a % GiB === 0 && a + GiB <= r.end) {
        pt.map(va, a, GiB, PTE_LARGE_DATA);
        a += GiB;
      } else {
        pt.map(va, a, 2 * MiB, PTE_LARGE_DATA);
        a += 2 * MiB;
      }
    }
  }
  for (let off = 0; off < layout.kernelBytes; off += 2 * MiB) {
    pt.map(layout.text + BigInt(off), layout.kernelPhys + off, 2 * MiB, PTE_LARGE_TEXT);
  }
  for (const s of layout.presentSections) {
    const va = layout.vmemmap + BigInt(s * sectionBytes);
    const pa = memmapBacking.get(s)! * PAGE_SIZE;
    const leaf = s === pteSection ? PAGE_SIZE : 2 * MiB;
    for (let off = 0; off < sectionBytes; off += leaf) pt.map(va + BigInt(off), pa + off, leaf, leaf === PAGE_SIZE ? PTE_4K_DATA : PTE_LARGE_DATA);
  }
  return pt;
}

/** The buddy allocator and per-pfn kinds after memblock_free_all: RAM reserved, memblock's free ranges freed. */
function bootBuddy(layout: SimLayout, mb: Memblock) {
  const PAGE_SIZE = layout.pageSize;
  const endPfn = layout.ramEnd / PAGE_SIZE;
  const zones = layout.arch === 'arm64' ? arm64Zones(endPfn, PAGE_SIZE) : x86Zones(endPfn);
  const buddy = new BuddyAllocator(layout.nPfns, zones, layout.presentSections, layout.pagesPerSection);
  const kind = pfnBytes(layout.presentSections, layout.pagesPerSection, KIND.NOMEM);
  const aux = pfnBytes(layout.presentSections, layout.pagesPerSection);
  for (const r of layout.ram) {
    buddy.markPresent(r.start / PAGE_SIZE, r.end / PAGE_SIZE);
    kind.fill(KIND.RESERVED, r.start / PAGE_SIZE, r.end / PAGE_SIZE);
  }
  for (const f of mb.freeRanges()) {
    const a = Math.ceil(f.start / PAGE_SIZE);
    const b = Math.floor(f.end / PAGE_SIZE);
    if (b > a) {
      buddy.freeBootRange(a, b);
      kind.fill(KIND.FREE, a, b);
    }
  }
  return { buddy, kind, aux, zones };
}

/**
 * arm64 tables (swapper_pg_dir): the linear map with the largest blocks that fit (its first
 * block in pages, so every level is walked), the image with pages or 2 MiB blocks, the vmemmap
 * with 2 MiB blocks where the granule allows (4K) and pages otherwise, one section always in pages.
 */
function buildArm64Tables(
  layout: SimLayout,
  topPfn: number,
  allocTable: () => number,
  structural: Map<number, Buffer>,
  memmapBacking: Map<number, number>,
  sectionBytes: number,
  pteSection: number,
): Arm64PageTables {
  const P = layout.pageSize;
  const pt = new Arm64PageTables(P, layout.vaBits, topPfn, allocTable, structural, layout.vaBits === 52 && P !== 65536);
  const lm = (pa: number) => layout.pageOffset + BigInt(pa - layout.physOffset);
  for (const r of layout.ram) {
    const first = Math.min(r.end - r.start, 2 ** pt.shiftOf(1));
    pt.mapRange(lm(r.start), r.start, first, ARM64_DATA, P);
    pt.mapRange(lm(r.start + first), r.start + first, r.end - r.start - first, ARM64_DATA);
  }
  pt.mapRange(layout.text, layout.kernelPhys, layout.kernelBytes, ARM64_TEXT, P === 4096 ? 2 * MiB : P);
  for (const s of layout.presentSections) {
    const va = layout.vmemmap + BigInt(s * sectionBytes);
    pt.mapRange(va, memmapBacking.get(s)! * P, sectionBytes, ARM64_DATA, s === pteSection || P !== 4096 ? P : 2 * MiB);
  }
  return pt;
}

/** Freeable allocations, in allocation order: typed arrays that grow (a 64 GiB machine makes millions). */
class AllocRecords {
  pfn = new Float64Array(1 << 16); // pfns pass 2^31 with --high-mem
  order = new Uint8Array(1 << 16);
  length = 0;
  push(pfn: number, order: number): void {
    if (this.length === this.pfn.length) {
      const p = new Float64Array(this.length * 2);
      p.set(this.pfn);
      this.pfn = p;
      const o = new Uint8Array(this.length * 2);
      o.set(this.order);
      this.order = o;
    }
    this.pfn[this.length] = pfn;
    this.order[this.length++] = order;
  }
}

/** The kinds the workload allocates, in the order their targets are listed (the pick walks them so). */
type WorkKind = 'kernel' | 'kernelZero' | 'slab' | 'cache' | 'anon' | 'thp' | 'hugetlb' | 'balloon' | 'virtioMem' | 'hwpoison';

/**
 * Pages of each kind to allocate. Freeable kinds are inflated by the churn that frees some of
 * them again; order-9 kinds are whole pageblocks (at least one when asked for at all).
 */
function workloadTargets(w: Workload, managed: number): Record<WorkKind, number> {
  const churnScale = 1 + w.churn;
  const units9 = (f: number) => (f > 0 ? Math.max(1, Math.round((f * managed) / 512)) * 512 : 0);
  const anonThp = units9(w.anon * w.thp * churnScale);
  return {
    kernel: Math.round(w.kernel * managed * churnScale),
    kernelZero: Math.round(w.kernelZero * managed * churnScale),
    slab: Math.round(w.slab * managed * churnScale),
    cache: Math.round(w.cache * managed * churnScale),
    anon: Math.max(0, Math.round(w.anon * managed * churnScale) - anonThp),
    thp: anonThp,
    hugetlb: units9(w.hugetlb),
    balloon: Math.round(w.balloon * managed),
    virtioMem: units9(w.virtioMem),
    hwpoison: Math.max(0, Math.floor(w.hwpoison)),
  };
}

/** A kind at random, weighted by the pages it still wants; null when every target is met. */
function pickKind(target: Record<WorkKind, number>, names: readonly WorkKind[], rng: Rng): WorkKind | null {
  let total = 0;
  for (const n of names) total += Math.max(0, target[n]);
  if (total <= 0) return null;
  let pick = rng.float() * total;
  for (const n of names) {
    const t = Math.max(0, target[n]);
    if (pick < t) return n;
    pick -= t;
  }
  return names[0]!; // float rounding past the last weight
}

/** The order and migratetype one allocation of a kind asks for, never more than it still wants. */
function allocRequest(name: WorkKind, wanted: number, rng: Rng): { order: number; mt: number } {
  let order = 0;
  let mt: number = MIGRATE.MOVABLE;
  switch (name) {
    case 'kernel':
      order = rng.chance(0.7) ? 0 : rng.chance(0.66) ? 1 : 2;
      mt = MIGRATE.UNMOVABLE;
      break;
    case 'kernelZero':
      order = rng.chance(0.8) ? 0 : 1;
      mt = MIGRATE.UNMOVABLE;
      break;
    case 'slab':
      order = rng.chance(0.5) ? 0 : 1 + rng.int(3);
      mt = rng.chance(0.7) ? MIGRATE.UNMOVABLE : MIGRATE.RECLAIMABLE;
      break;
    case 'cache':
      order = rng.int(5);
      break;
    case 'anon':
      order = rng.int(4);
      break;
    case 'thp':
    case 'hugetlb':
    case 'virtioMem':
      order = PAGEBLOCK_ORDER;
      break;
  }
  return { order: Math.min(order, Math.max(0, Math.floor(Math.log2(Math.max(1, wanted))))), mt };
}

/** Records what the workload's allocations are: per-pfn kind and aux bits, and which are freeable. */
class Placement {
  /** Freeable allocations, in allocation order (the churn walks them). */
  readonly recs = new AllocRecords();
  constructor(
    private readonly m: Machine,
    private readonly rng: Rng,
  ) {}

  /** Mark a block of `order` at `pfn` as allocation `name`. */
  place(name: WorkKind, pfn: number, order: number): void {
    const w = this.m.workload;
    switch (name) {
      case 'kernel':
        this.freeable(pfn, order, KIND.KERNEL, this.variant());
        break;
      case 'kernelZero':
        this.freeable(pfn, order, KIND.KERNEL_ZERO);
        break;
      case 'slab':
        if (order === 0) setKind(this.m, pfn, 0, KIND.SLAB);
        else this.compound(pfn, order, KIND.SLAB);
        this.recs.push(pfn, order);
        break;
      case 'cache':
        // a readahead batch split into order-0 pages (split_page), each freed on its own later
        this.splitPages(pfn, 1 << order, w.cachePrivate, KIND.CACHE_PRIVATE, KIND.CACHE);
        break;
      case 'anon':
        this.splitPages(pfn, 1 << order, w.swapcache, KIND.SWAPCACHE, KIND.ANON);
        break;
      case 'thp':
        this.compound(pfn, PAGEBLOCK_ORDER, KIND.THP);
        this.recs.push(pfn, PAGEBLOCK_ORDER);
        break;
      case 'hugetlb':
        this.compound(pfn, PAGEBLOCK_ORDER, this.rng.chance(w.hugetlbFree) ? KIND.HUGETLB_FREE : KIND.HUGETLB);
        break;
      case 'balloon':
        setKind(this.m, pfn, 0, KIND.BALLOON);
        break;
      case 'virtioMem':
        setKind(this.m, pfn, PAGEBLOCK_ORDER, KIND.VIRTIO_MEM);
        break;
      case 'hwpoison':
        setKind(this.m, pfn, 0, KIND.HWPOISON);
        break;
    }
  }

  private freeable(pfn: number, order: number, k: number, a = 0): void {
    setKind(this.m, pfn, order, k, a);
    this.recs.push(pfn, order);
  }

  /** Content variant bits of a data page. */
  private variant(): number {
    return (this.rng.chance(0.3) ? AUX.VAR1 : 0) | (this.rng.chance(0.2) ? AUX.VAR2 : 0);
  }

  /** A compound page: every page carries the order, the head its flag. */
  private compound(pfn: number, order: number, k: number): void {
    setKind(this.m, pfn, order, k, order);
    this.m.aux.set(pfn, order | AUX.HEAD);
  }

  /** `n` order-0 pages from `pfn`, each `alt` with probability `p` (else `k`), each freeable. */
  private splitPages(pfn: number, n: number, p: number, alt: number, k: number): void {
    for (let q = pfn; q < pfn + n; q++) {
      this.m.kind.set(q, this.rng.chance(p) ? alt : k);
      this.m.aux.set(q, this.variant());
      this.recs.push(q, 0);
    }
  }
}

/** Kind and aux bits of the 2^order pages at `pfn`. */
function setKind(m: Machine, pfn: number, order: number, k: number, a = 0): void {
  m.kind.fill(k, pfn, pfn + (1 << order));
  m.aux.fill(a, pfn, pfn + (1 << order));
}

/** Allocate the workload, interleaving kinds at random, then free a fraction again (churn). */
function runWorkload(m: Machine, rng: Rng): void {
  const target = workloadTargets(m.workload, m.buddy.managed.reduce((a, b) => a + b, 0));
  const names = Object.keys(target) as WorkKind[];
  const placement = new Placement(m, rng);
  for (let name = pickKind(target, names, rng); name !== null; name = pickKind(target, names, rng)) {
    const { order, mt } = allocRequest(name, target[name], rng);
    const pfn = m.buddy.alloc(order, mt);
    if (pfn < 0) {
      // nothing of this size is left: retire the kind (order-0 kinds retire when memory is full)
      target[name] = 0;
      continue;
    }
    target[name] -= 1 << order;
    placement.place(name, pfn, order);
  }
  churn(m, placement.recs, rng);
}

/** Free a fraction of the freeable allocations again, so free memory is fragmented. */
function churn(m: Machine, recs: AllocRecords, rng: Rng): void {
  const keep = 1 / (1 + m.workload.churn);
  for (let i = 0; i < recs.length; i++) {
    if (rng.float() < keep) continue;
    const pfn = recs.pfn[i]!;
    const order = recs.order[i]!;
    m.buddy.free(pfn, order);
    setKind(m, pfn, order, KIND.FREE);
  }
}

/** Free page reporting: a seeded fraction of free blocks of order ≥ pageblock order are hinted. */
function hintFreeBlocks(m: Machine, rng: Rng): void {
  const { buddy } = m;
  const eligible: number[] = [];
  let hinted = 0;
  for (const [pfn] of buddy.freeBlocks(PAGEBLOCK_ORDER)) {
    eligible.push(pfn);
    if (rng.chance(m.workload.hinted)) {
      m.aux.set(pfn, m.aux.get(pfn) | AUX.HINTED);
      hinted++;
    }
  }
  // small machines: with a non-zero fraction, report at least one block so the class is exercised
  if (m.workload.hinted > 0 && hinted === 0 && eligible.length) {
    const pfn = eligible[rng.int(eligible.length)]!;
    m.aux.set(pfn, m.aux.get(pfn) | AUX.HINTED);
  }
}

/** Direct-map addresses of kernel objects (kmem_caches, anon_vmas, address_spaces, buffer heads) inside slab pages. */
function makePools(m: Machine, rng: Rng): ObjectPools {
  const PAGE_SIZE = m.layout.pageSize;
  const slabPfns: number[] = [];
  for (const p of m.kind.indexes()) {
    if (slabPfns.length >= 4096) break;
    if (m.kind.get(p) === KIND.SLAB && (m.aux.get(p) & AUX.HEAD || (m.aux.get(p) & AUX.ORDER) === 0)) slabPfns.push(p);
  }
  // fall back to the kernel image's data area when there is no slab
  const base = (i: number) =>
    slabPfns.length ? slabPfns[i % slabPfns.length]! * PAGE_SIZE : m.layout.kernelPhys + 0x1200000 + (i % 512) * PAGE_SIZE;
  const pool = (n: number, size: number) =>
    Array.from({ length: n }, () => directMap(m, base(rng.int(1 << 20)) + size * rng.int(PAGE_SIZE / size)));
  return {
    kmemCache: pool(16, 256),
    anonVma: pool(128, 128),
    addressSpace: pool(128, 256),
    bufferHead: pool(128, 128),
    balloon: directMap(m, base(rng.int(1 << 20)) + 0x40),
  };
}

/** The VA of free_area[order].free_list[mt] of zone z in node 0's pglist_data. */
export function freeListHeadVA(m: Machine, z: number, order: number, mt: number): bigint {
  const zl = m.profile.zone;
  return (
    m.symbols.pgdat +
    BigInt(zl.nodeZones + z * zl.zoneSize + zl.zoneFreeArea + order * zl.freeAreaSize + zl.freeAreaFreeList + mt * zl.listHeadSize)
  );
}

/** pglist_data with zones and free lists, init_uts_ns, node_data, node_online_map, vmap_area_list. */
function writeKernelStructures(m: Machine, pgdatPa: number, pgdatPages: number): void {
  const PAGE_SIZE = m.layout.pageSize;
  const zl = m.profile.zone;
  const pgdat = Buffer.alloc(pgdatPages * PAGE_SIZE);
  const { buddy } = m;
  const spanned = (z: number) => buddy.zones[z]!.endPfn - buddy.zones[z]!.startPfn;
  for (let z = 0; z < buddy.zones.length; z++) {
    const zoff = zl.nodeZones + z * zl.zoneSize;
    pgdat.writeBigUInt64LE(BigInt(spanned(z)), zoff + zl.zoneSpannedPages);
    pgdat.writeBigInt64LE(BigInt(buddy.freePages[z]!), zoff + zl.zoneVmStat); // vm_stat[NR_FREE_PAGES]
    for (let o = 0; o < MAX_ORDER; o++) {
      const fa = zoff + zl.zoneFreeArea + o * zl.freeAreaSize;
      for (let mt = 0; mt < NR_MIGRATETYPES; mt++) {
        const lh = fa + zl.freeAreaFreeList + mt * zl.listHeadSize;
        const self = freeListHeadVA(m, z, o, mt);
        let first = self;
        let last = self;
        const pfns = [...buddy.list(z, o, mt)];
        if (pfns.length) {
          first = pageVA(m, pfns[0]!) + BigInt(m.profile.layout.lru);
          last = pageVA(m, pfns[pfns.length - 1]!) + BigInt(m.profile.layout.lru);
        }
        pgdat.writeBigUInt64LE(first, lh + zl.listHeadNext);
        pgdat.writeBigUInt64LE(last, lh + zl.listHeadPrev);
      }
      // nr_free follows the free lists in struct free_area
      pgdat.writeBigUInt64LE(BigInt(buddy.nrFree(z, o)), fa + zl.freeAreaFreeList + NR_MIGRATETYPES * zl.listHeadSize);
    }
  }
  const endPfn = m.layout.ramEnd / PAGE_SIZE;
  const presentPages = m.layout.ram.reduce((a, r) => a + (r.end - r.start) / PAGE_SIZE, 0);
  pgdat.writeInt32LE(3, zl.nrZones);
  pgdat.writeBigUInt64LE(0n, zl.nodeStartPfn);
  pgdat.writeBigUInt64LE(BigInt(presentPages), zl.nodeStartPfn + 8); // node_present_pages
  pgdat.writeBigUInt64LE(BigInt(endPfn), zl.nodeSpannedPages);
  pgdat.writeInt32LE(0, zl.nodeId);
  for (let p = 0; p < pgdatPages; p++) m.structural.set(pgdatPa / PAGE_SIZE + p, pgdat.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE));

  // kernel-image symbols: the page keeps its image content around the object
  const put = (va: bigint, bytes: Buffer) => putPhys(m, kernelPhys(m, va), bytes, false);
  const uts = Buffer.alloc(6 * 65);
  const fields = ['Linux', `sim-${m.opts.seed}`, m.profile.osrelease, m.profile.version, m.layout.arch === 'arm64' ? 'aarch64' : 'x86_64', '(none)'];
  fields.forEach((f, i) => uts.write(f.slice(0, 64), i * 65, 'latin1'));
  put(m.symbols.init_uts_ns + BigInt(m.profile.utsNameOffset), uts);
  const nodeData = Buffer.alloc(MAX_NUMNODES * 8);
  nodeData.writeBigUInt64LE(m.symbols.pgdat, 0);
  put(m.symbols.node_data, nodeData);
  const online = Buffer.alloc(zl.nodemaskSize);
  online[0] = 1;
  put(m.symbols.node_online_map, online);
  const val = Buffer.alloc(16); // empty list_head: points at itself
  val.writeBigUInt64LE(m.symbols.vmap_area_list, 0);
  val.writeBigUInt64LE(m.symbols.vmap_area_list, 8);
  put(m.symbols.vmap_area_list, val);
}

/**
 * Place bytes in physical memory as explicit page content. A page not yet explicit starts as
 * zero (`zeroBase`: bss, memblock) or as the kernel image's data content around the object.
 */
function putPhys(m: Machine, pa: number, bytes: Buffer, zeroBase: boolean): void {
  const PAGE_SIZE = m.layout.pageSize;
  let i = 0;
  while (i < bytes.length) {
    const pfn = Math.floor(pa / PAGE_SIZE);
    let page = m.structural.get(pfn);
    if (!page) {
      page = Buffer.alloc(PAGE_SIZE);
      if (!zeroBase) m.content.fill(pfn, 2, page, 0);
      m.structural.set(pfn, page);
    }
    const n = Math.min(bytes.length - i, PAGE_SIZE - (pa % PAGE_SIZE));
    bytes.copy(page, pa % PAGE_SIZE, i, i + n);
    i += n;
    pa += n;
  }
}

/** Zone index of a pfn (pfns beyond RAM take the last populated zone). */
export function zoneIndex(m: Machine, pfn: number): number {
  const z = m.buddy.zoneOf(pfn);
  if (z >= 0) return z;
  for (let i = m.buddy.zones.length - 1; i >= 0; i--) if (m.buddy.zones[i]!.endPfn > m.buddy.zones[i]!.startPfn) return i;
  return 0;
}

/** Sanity: the allocator agrees with the per-pfn kinds. */
export function checkMachine(m: Machine): void {
  for (const [a, b] of m.kind.ranges()) {
    for (let p = a; p < b; p++) {
      const free = m.buddy.state.get(p) === PAGE_STATE.FREE;
      if (free !== (m.kind.get(p) === KIND.FREE)) {
        throw new VmcoreError('E_INTERNAL', `pfn ${p}: allocator state ${m.buddy.state.get(p)} disagrees with kind ${m.kind.get(p)}`);
      }
    }
  }
}
