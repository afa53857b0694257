/**
 * VMCOREINFO as an x86_64 kernel writes it (kernel/crash_core.c or kernel/vmcore_info.c
 * crash_save_vmcoreinfo_init and the arch part), in its emission order (FORMATS.md §2.3), from
 * the kernel profile — which keys its generation has (§2.3 "present" column) and its values —
 * and the machine's layout.
 */
import { KERNEL_IMAGE_SIZE } from './layout.js';
import { MAX_NUMNODES, type Machine } from './machine.js';

/** Offsets of struct vmap_area in 6.0 (not part of the shared profile: only VMCOREINFO needs them). */
const VMAP_AREA = { vaStart: 0, list: 40 };

const hex = (v: bigint) => v.toString(16);

/** The VMCOREINFO text (every line `KEY=VALUE\n`, CRASHTIME last). */
export function buildVmcoreinfo(m: Machine): string {
  const p = m.profile;
  const l = p.layout;
  const z = p.zone;
  const s = m.symbols;
  const out: string[] = [];
  const add = (k: string, v: string | number | bigint) => out.push(`${k}=${typeof v === 'bigint' ? v.toString() : v}`);
  add('OSRELEASE', p.osrelease);
  const keys = p.keys;
  if (keys.buildId) add('BUILD-ID', m.buildId);
  const arm64 = m.layout.arch === 'arm64';
  add('PAGESIZE', m.layout.pageSize);
  add('SYMBOL(init_uts_ns)', hex(s.init_uts_ns));
  add('OFFSET(uts_namespace.name)', p.utsNameOffset);
  add('SYMBOL(node_online_map)', hex(s.node_online_map));
  add('SYMBOL(swapper_pg_dir)', hex(s.init_top_pgt));
  add('SYMBOL(_stext)', hex(s._stext));
  const vmallocStart = arm64 ? m.layout.kimageVaddr : m.layout.l5 ? 0xffa0000000000000n : 0xffffc90000000000n;
  if (keys.vmallocStart) out.push(`NUMBER(VMALLOC_START)=0x${vmallocStart.toString(16)}`);
  else add('SYMBOL(vmap_area_list)', hex(s.vmap_area_list));
  if (keys.vmallocStart) add('SYMBOL(vmemmap)', hex(m.layout.vmemmap));
  add('SYMBOL(mem_section)', hex(s.mem_section));
  add('LENGTH(mem_section)', m.memSectionRoots);
  add('SIZE(mem_section)', p.memSectionSize);
  add('OFFSET(mem_section.section_mem_map)', p.memSectionMapOffset);
  if (keys.sectionBits) {
    add('NUMBER(SECTION_SIZE_BITS)', m.layout.sectionSizeBits);
    add('NUMBER(MAX_PHYSMEM_BITS)', m.layout.maxPhysmemBits);
  }
  add('SIZE(page)', l.size);
  add('SIZE(pglist_data)', z.pglistDataSize);
  add('SIZE(zone)', z.zoneSize);
  add('SIZE(free_area)', z.freeAreaSize);
  add('SIZE(list_head)', z.listHeadSize);
  add('SIZE(nodemask_t)', z.nodemaskSize);
  add('OFFSET(page.flags)', l.flags);
  add('OFFSET(page._refcount)', l.refcount);
  add('OFFSET(page.mapping)', l.mapping);
  add('OFFSET(page.lru)', l.lru);
  add('OFFSET(page._mapcount)', l.mapcount);
  add('OFFSET(page.private)', l.private);
  // ≤ 6.2 in struct page; 6.3–6.5 as folio fields (Linux commit 1c5509be58f6); 6.6+ neither.
  if (p.compound.order === 'page') {
    if (l.compoundDtor !== undefined) add('OFFSET(page.compound_dtor)', l.compoundDtor);
    if (l.compoundOrder !== undefined) add('OFFSET(page.compound_order)', l.compoundOrder);
  } else if (p.compound.order === 'folio') {
    if (l.compoundDtor !== undefined) add('OFFSET(folio._folio_dtor)', l.size + l.compoundDtor);
    if (l.compoundOrder !== undefined) add('OFFSET(folio._folio_order)', l.size + l.compoundOrder);
  }
  add('OFFSET(page.compound_head)', l.compoundHead);
  add('OFFSET(pglist_data.node_zones)', z.nodeZones);
  add('OFFSET(pglist_data.nr_zones)', z.nrZones);
  add('OFFSET(pglist_data.node_start_pfn)', z.nodeStartPfn);
  add('OFFSET(pglist_data.node_spanned_pages)', z.nodeSpannedPages);
  add('OFFSET(pglist_data.node_id)', z.nodeId);
  add('OFFSET(zone.free_area)', z.zoneFreeArea);
  add('OFFSET(zone.vm_stat)', z.zoneVmStat);
  add('OFFSET(zone.spanned_pages)', z.zoneSpannedPages);
  add('OFFSET(free_area.free_list)', z.freeAreaFreeList);
  add('OFFSET(list_head.next)', z.listHeadNext);
  add('OFFSET(list_head.prev)', z.listHeadPrev);
  if (!keys.vmallocStart) {
    add('OFFSET(vmap_area.va_start)', VMAP_AREA.vaStart);
    add('OFFSET(vmap_area.list)', VMAP_AREA.list);
  }
  add('LENGTH(zone.free_area)', z.nrOrders);
  // printk: log_buf_vmcoreinfo_setup() (lockless ringbuffer keys, FORMATS.md §2.3 #20, or the
  // pre-5.10 log_buf keys), written by src/sim/printk.ts.
  out.push(...printkLines(m));
  add('LENGTH(free_area.free_list)', z.nrMigrateTypes);
  add('NUMBER(NR_FREE_PAGES)', 0);
  add('NUMBER(PG_lru)', p.flags.lru);
  add('NUMBER(PG_private)', p.flags.private);
  add('NUMBER(PG_swapcache)', p.flags.swapcache);
  if (p.flags.swapbacked !== undefined) add('NUMBER(PG_swapbacked)', p.flags.swapbacked);
  if (p.flags.slab !== undefined) add('NUMBER(PG_slab)', p.flags.slab);
  if (p.flags.hwpoison !== undefined) add('NUMBER(PG_hwpoison)', p.flags.hwpoison);
  add('NUMBER(PG_head_mask)', p.flags.headMask);
  const pt = p.pageTypes;
  if (pt.buddy !== undefined) add('NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)', pt.buddy);
  if (p.compound.hugetlb === 'dtor') add('NUMBER(HUGETLB_PAGE_DTOR)', p.compoundDtor.hugetlb);
  if (p.compound.hugetlb === 'flag' && p.pgHugetlb !== undefined) add('NUMBER(PG_hugetlb)', p.pgHugetlb);
  if (p.compound.hugetlb === 'page-type' && pt.hugetlb !== undefined) add('NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)', pt.hugetlb);
  if (pt.offline !== undefined) add('NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)', pt.offline);
  if (pt.slab !== undefined) add('NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)', pt.slab);
  if (pt.unaccepted !== undefined) add('NUMBER(PAGE_UNACCEPTED_MAPCOUNT_VALUE)', pt.unaccepted);
  if (arm64) out.push(...arm64Lines(m));
  else out.push(...x86Lines(m));
  add('CRASHTIME', m.crashTime);
  return out.join('\n') + '\n';
}

/** arch/x86/kernel/machine_kexec_64.c arch_crash_save_vmcoreinfo. */
function x86Lines(m: Machine): string[] {
  const s = m.symbols;
  const keys = m.profile.keys;
  const out: string[] = [];
  const add = (k: string, v: string | number | bigint) => out.push(`${k}=${typeof v === 'bigint' ? v.toString() : v}`);
  add('NUMBER(phys_base)', m.layout.physBase);
  add('SYMBOL(init_top_pgt)', hex(s.init_top_pgt));
  if (keys.l5Export || m.layout.l5) add('NUMBER(pgtable_l5_enabled)', m.layout.l5 ? 1 : 0);
  add('SYMBOL(node_data)', hex(s.node_data));
  add('LENGTH(node_data)', MAX_NUMNODES);
  add('KERNELOFFSET', hex(m.layout.kernelOffset));
  add('NUMBER(KERNEL_IMAGE_SIZE)', KERNEL_IMAGE_SIZE);
  add('NUMBER(sme_mask)', 0);
  return out;
}

/**
 * arch/arm64/kernel/vmcore_info.c (6.12) arch_crash_save_vmcoreinfo, the same key set for every
 * simulated generation: VA_BITS, the module / vmalloc / vmemmap ranges, kimage_voffset,
 * PHYS_OFFSET, TCR_EL1.T1SZ, KERNELOFFSET and KERNELPACMASK (0: a CPU without pointer auth).
 */
function arm64Lines(m: Machine): string[] {
  const L = m.layout;
  const x = (v: bigint) => '0x' + v.toString(16);
  const vmemmapEnd = ((1n << 64n) - 1n) ^ ((1n << 30n) - 1n);
  return [
    `NUMBER(VA_BITS)=${L.vaBits}`,
    `NUMBER(MODULES_VADDR)=${x(L.kimageVaddr - (2n << 30n))}`,
    `NUMBER(MODULES_END)=${x(L.kimageVaddr)}`,
    `NUMBER(VMALLOC_END)=${x(L.vmemmapStart - (8n << 20n))}`, // VMEMMAP_START − SZ_8M
    `NUMBER(VMEMMAP_START)=${x(L.vmemmapStart)}`,
    `NUMBER(VMEMMAP_END)=${x(vmemmapEnd)}`,
    `NUMBER(kimage_voffset)=${x(L.kimageVoffset)}`,
    `NUMBER(PHYS_OFFSET)=${x(BigInt(L.physOffset))}`,
    `NUMBER(TCR_EL1_T1SZ)=${x(BigInt(64 - L.vaBits))}`,
    `KERNELOFFSET=${L.kernelOffset.toString(16)}`,
    'NUMBER(KERNELPACMASK)=0x0',
  ];
}

/** The printk block, as the simulated kernel log was stored. */
function printkLines(m: Machine): string[] {
  return m.printk?.vmcoreinfo ?? [];
}
