/**
 * VMCOREINFO as an x86_64 kernel writes it (kernel/crash_core.c or kernel/vmcore_info.c
 * crash_save_vmcoreinfo_init and the arch part), in its emission order (FORMATS.md §2.3), from
 * the kernel profile — which keys its generation has (§2.3 "present" column) and its values —
 * and the machine's layout.
 */
import type { KernelProfile } from '../mm/profiles.js';
import { KERNEL_IMAGE_SIZE } from './layout.js';
import { MAX_NUMNODES, type Machine } from './machine.js';

/** Offsets of struct vmap_area in 6.0 (not part of the shared profile: only VMCOREINFO needs them). */
const VMAP_AREA = { vaStart: 0, list: 40 };

const hex = (v: bigint) => v.toString(16);

/** VMCOREINFO lines in emission order. */
class VmcoreinfoLines {
  readonly lines: string[] = [];
  /** `KEY=VALUE`, numbers in decimal (hex values come as strings). */
  add(key: string, value: string | number | bigint): void {
    this.lines.push(`${key}=${value}`);
  }
  /** A key the generation may not have: written when it has a value. */
  addIf(key: string, value: number | bigint | undefined): void {
    if (value !== undefined) this.add(key, value);
  }
  push(lines: readonly string[]): void {
    this.lines.push(...lines);
  }
}

/** The VMCOREINFO text (every line `KEY=VALUE\n`, CRASHTIME last). */
export function buildVmcoreinfo(m: Machine): string {
  const t = new VmcoreinfoLines();
  addReleaseAndSymbols(t, m);
  addStructPage(t, m.profile);
  addNodeAndZone(t, m.profile);
  // printk: log_buf_vmcoreinfo_setup() (lockless ringbuffer keys, FORMATS.md §2.3 #20, or the
  // pre-5.10 log_buf keys), written by src/sim/printk.ts.
  t.push(printkLines(m));
  addFlagsAndPageTypes(t, m.profile);
  if (m.layout.arch === 'arm64') addArm64(t, m);
  else addX86(t, m);
  t.add('CRASHTIME', m.crashTime);
  return t.lines.join('\n') + '\n';
}

/** The release, the symbols a reader starts from, and mem_section (SPARSEMEM). */
function addReleaseAndSymbols(t: VmcoreinfoLines, m: Machine): void {
  const p = m.profile;
  const s = m.symbols;
  const keys = p.keys;
  t.add('OSRELEASE', p.osrelease);
  if (keys.buildId) t.add('BUILD-ID', m.buildId);
  t.add('PAGESIZE', m.layout.pageSize);
  t.add('SYMBOL(init_uts_ns)', hex(s.init_uts_ns));
  t.add('OFFSET(uts_namespace.name)', p.utsNameOffset);
  t.add('SYMBOL(node_online_map)', hex(s.node_online_map));
  t.add('SYMBOL(swapper_pg_dir)', hex(s.init_top_pgt));
  t.add('SYMBOL(_stext)', hex(s._stext));
  if (keys.vmallocStart) {
    const vmallocStart = m.layout.arch === 'arm64' ? m.layout.kimageVaddr : m.layout.l5 ? 0xffa0000000000000n : 0xffffc90000000000n;
    t.add('NUMBER(VMALLOC_START)', `0x${hex(vmallocStart)}`);
    t.add('SYMBOL(vmemmap)', hex(m.layout.vmemmap));
  } else {
    t.add('SYMBOL(vmap_area_list)', hex(s.vmap_area_list));
  }
  t.add('SYMBOL(mem_section)', hex(s.mem_section));
  t.add('LENGTH(mem_section)', m.memSectionRoots);
  t.add('SIZE(mem_section)', p.memSectionSize);
  t.add('OFFSET(mem_section.section_mem_map)', p.memSectionMapOffset);
  if (keys.sectionBits) {
    t.add('NUMBER(SECTION_SIZE_BITS)', m.layout.sectionSizeBits);
    t.add('NUMBER(MAX_PHYSMEM_BITS)', m.layout.maxPhysmemBits);
  }
}

/**
 * How a generation exports page[1]'s compound destructor and order bytes: ≤ 6.2 as struct page
 * fields; 6.3–6.5 as folio fields, counted from the folio's start (Linux commit 1c5509be58f6);
 * 6.6+ not at all (the order is in page[1].flags).
 */
const COMPOUND_OFFSET_KEYS: Record<KernelProfile['compound']['order'], { dtor: string; order: string; fromFolio: boolean } | null> = {
  page: { dtor: 'OFFSET(page.compound_dtor)', order: 'OFFSET(page.compound_order)', fromFolio: false },
  folio: { dtor: 'OFFSET(folio._folio_dtor)', order: 'OFFSET(folio._folio_order)', fromFolio: true },
  flags: null,
};

/** The sizes of the mm structures, then struct page's field offsets. */
function addStructPage(t: VmcoreinfoLines, p: KernelProfile): void {
  const l = p.layout;
  const z = p.zone;
  t.add('SIZE(page)', l.size);
  t.add('SIZE(pglist_data)', z.pglistDataSize);
  t.add('SIZE(zone)', z.zoneSize);
  t.add('SIZE(free_area)', z.freeAreaSize);
  t.add('SIZE(list_head)', z.listHeadSize);
  t.add('SIZE(nodemask_t)', z.nodemaskSize);
  t.add('OFFSET(page.flags)', l.flags);
  t.add('OFFSET(page._refcount)', l.refcount);
  t.add('OFFSET(page.mapping)', l.mapping);
  t.add('OFFSET(page.lru)', l.lru);
  t.add('OFFSET(page._mapcount)', l.mapcount);
  t.add('OFFSET(page.private)', l.private);
  const c = COMPOUND_OFFSET_KEYS[p.compound.order];
  if (c) {
    const base = c.fromFolio ? l.size : 0;
    if (l.compoundDtor !== undefined) t.add(c.dtor, base + l.compoundDtor);
    if (l.compoundOrder !== undefined) t.add(c.order, base + l.compoundOrder);
  }
  t.add('OFFSET(page.compound_head)', l.compoundHead);
}

/** pglist_data, zone, free_area and list_head offsets (and vmap_area before VMALLOC_START was exported). */
function addNodeAndZone(t: VmcoreinfoLines, p: KernelProfile): void {
  const z = p.zone;
  t.add('OFFSET(pglist_data.node_zones)', z.nodeZones);
  t.add('OFFSET(pglist_data.nr_zones)', z.nrZones);
  t.add('OFFSET(pglist_data.node_start_pfn)', z.nodeStartPfn);
  t.add('OFFSET(pglist_data.node_spanned_pages)', z.nodeSpannedPages);
  t.add('OFFSET(pglist_data.node_id)', z.nodeId);
  t.add('OFFSET(zone.free_area)', z.zoneFreeArea);
  t.add('OFFSET(zone.vm_stat)', z.zoneVmStat);
  t.add('OFFSET(zone.spanned_pages)', z.zoneSpannedPages);
  t.add('OFFSET(free_area.free_list)', z.freeAreaFreeList);
  t.add('OFFSET(list_head.next)', z.listHeadNext);
  t.add('OFFSET(list_head.prev)', z.listHeadPrev);
  if (!p.keys.vmallocStart) {
    t.add('OFFSET(vmap_area.va_start)', VMAP_AREA.vaStart);
    t.add('OFFSET(vmap_area.list)', VMAP_AREA.list);
  }
  t.add('LENGTH(zone.free_area)', z.nrOrders);
}

/** How a generation marks a hugetlb compound page, and the number that tells a reader. */
const HUGETLB_KEY: Record<KernelProfile['compound']['hugetlb'], { key: string; value(p: KernelProfile): number | undefined }> = {
  /** ≤ 6.5: page[1]'s compound_dtor. */
  dtor: { key: 'NUMBER(HUGETLB_PAGE_DTOR)', value: (p) => p.compoundDtor.hugetlb },
  /** 6.6–6.8: a bit of page[1].flags. */
  flag: { key: 'NUMBER(PG_hugetlb)', value: (p) => p.pgHugetlb },
  /** 6.9+: the head's page type. */
  'page-type': { key: 'NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)', value: (p) => p.pageTypes.hugetlb },
};

/** The free lists' length, then the page flag bits and page-type values the generation exports. */
function addFlagsAndPageTypes(t: VmcoreinfoLines, p: KernelProfile): void {
  // after printk's block, where crash_save_vmcoreinfo_init() has them
  t.add('LENGTH(free_area.free_list)', p.zone.nrMigrateTypes);
  t.add('NUMBER(NR_FREE_PAGES)', 0);
  t.add('NUMBER(PG_lru)', p.flags.lru);
  t.add('NUMBER(PG_private)', p.flags.private);
  t.add('NUMBER(PG_swapcache)', p.flags.swapcache);
  t.addIf('NUMBER(PG_swapbacked)', p.flags.swapbacked);
  t.addIf('NUMBER(PG_slab)', p.flags.slab);
  t.addIf('NUMBER(PG_hwpoison)', p.flags.hwpoison);
  t.add('NUMBER(PG_head_mask)', p.flags.headMask);
  const pt = p.pageTypes;
  const hugetlb = HUGETLB_KEY[p.compound.hugetlb];
  t.addIf('NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)', pt.buddy);
  t.addIf(hugetlb.key, hugetlb.value(p));
  t.addIf('NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)', pt.offline);
  t.addIf('NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)', pt.slab);
  t.addIf('NUMBER(PAGE_UNACCEPTED_MAPCOUNT_VALUE)', pt.unaccepted);
}

/** arch/x86/kernel/machine_kexec_64.c arch_crash_save_vmcoreinfo. */
function addX86(t: VmcoreinfoLines, m: Machine): void {
  const s = m.symbols;
  t.add('NUMBER(phys_base)', m.layout.physBase);
  t.add('SYMBOL(init_top_pgt)', hex(s.init_top_pgt));
  if (m.profile.keys.l5Export || m.layout.l5) t.add('NUMBER(pgtable_l5_enabled)', m.layout.l5 ? 1 : 0);
  t.add('SYMBOL(node_data)', hex(s.node_data));
  t.add('LENGTH(node_data)', MAX_NUMNODES);
  t.add('KERNELOFFSET', hex(m.layout.kernelOffset));
  t.add('NUMBER(KERNEL_IMAGE_SIZE)', KERNEL_IMAGE_SIZE);
  t.add('NUMBER(sme_mask)', 0);
}

/**
 * arch/arm64/kernel/vmcore_info.c (6.12) arch_crash_save_vmcoreinfo, the same key set for every
 * simulated generation: VA_BITS, the module / vmalloc / vmemmap ranges, kimage_voffset,
 * PHYS_OFFSET, TCR_EL1.T1SZ, KERNELOFFSET and KERNELPACMASK (0: a CPU without pointer auth).
 */
function addArm64(t: VmcoreinfoLines, m: Machine): void {
  const L = m.layout;
  const x = (v: bigint) => '0x' + v.toString(16);
  const vmemmapEnd = ((1n << 64n) - 1n) ^ ((1n << 30n) - 1n);
  t.add('NUMBER(VA_BITS)', L.vaBits);
  t.add('NUMBER(MODULES_VADDR)', x(L.kimageVaddr - (2n << 30n)));
  t.add('NUMBER(MODULES_END)', x(L.kimageVaddr));
  t.add('NUMBER(VMALLOC_END)', x(L.vmemmapStart - (8n << 20n))); // VMEMMAP_START − SZ_8M
  t.add('NUMBER(VMEMMAP_START)', x(L.vmemmapStart));
  t.add('NUMBER(VMEMMAP_END)', x(vmemmapEnd));
  t.add('NUMBER(kimage_voffset)', x(L.kimageVoffset));
  t.add('NUMBER(PHYS_OFFSET)', x(BigInt(L.physOffset)));
  t.add('NUMBER(TCR_EL1_T1SZ)', x(BigInt(64 - L.vaBits)));
  t.add('KERNELOFFSET', L.kernelOffset.toString(16));
  t.add('NUMBER(KERNELPACMASK)', '0x0');
}

/** The printk block, as the simulated kernel log was stored. */
function printkLines(m: Machine): string[] {
  return m.printk?.vmcoreinfo ?? [];
}
