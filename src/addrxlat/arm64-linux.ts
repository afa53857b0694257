/**
 * The Linux arm64 virtual layout as VMCOREINFO describes it, and the kernel translator built
 * from it. Keys (arch/arm64/kernel/vmcore_info.c, crash_core.c before 6.9): NUMBER(VA_BITS),
 * NUMBER(TCR_EL1_T1SZ) (spelt tcr_el1_t1sz in 5.9–5.11), NUMBER(kimage_voffset),
 * NUMBER(PHYS_OFFSET), KERNELOFFSET, SYMBOL(swapper_pg_dir), PAGESIZE, NUMBER(MAX_PHYSMEM_BITS),
 * NUMBER(VMEMMAP_START) (6.x). Inconsistent or missing exports throw E_VMCOREINFO naming the keys.
 */
import { VmcoreError, hex } from '../errors.js';
import type { Vmcoreinfo } from '../vmcoreinfo/parse.js';
import { arm64Levels, createArm64Translator, type Arm64Translator } from './arm64.js';
import type { ReadPhysU64 } from './walk.js';

const U64 = (1n << 64n) - 1n;
const neg = (bits: number) => (U64 << BigInt(bits)) & U64;

/** What the exports say about the VA space. */
export interface Arm64Layout {
  pageSize: number;
  pageShift: number;
  /** CONFIG_ARM64_VA_BITS. */
  vaBits: number;
  /** 64 − TCR_EL1.T1SZ (= vaBits when T1SZ is not exported and vaBits < 52). */
  vaBitsActual: number;
  /** 5.4+ layout: linear map in the lower half of the kernel VA space, kernel image above it. */
  flipped: boolean;
  /** Start of the linear map (PAGE_OFFSET). */
  pageOffset: bigint;
  /** End of the linear map (PAGE_END; 2^64 in the older layout). */
  pageEnd: bigint;
  /** PHYS_OFFSET (memstart_addr): the physical address of pageOffset; undefined if not exported. */
  physOffset: bigint | undefined;
  /** kimage_voffset: kernel-image virtual minus physical. */
  kimageVoffset: bigint;
  /** KERNELOFFSET (the KASLR displacement), if exported. */
  kernelOffset: bigint | undefined;
  /** NUMBER(VMEMMAP_START), exported by 6.x kernels. */
  vmemmapStart: bigint | undefined;
  /** Physical address of swapper_pg_dir. */
  pgdPhys: bigint;
  pa52: boolean;
  lpa2: boolean;
  /** The keys that decided it. */
  decidedBy: string[];
}

function bad(message: string, key: string): never {
  throw new VmcoreError('E_VMCOREINFO', message, { key });
}

function vaBitsOf(vi: Vmcoreinfo, pageShift: number): { vaBits: number; vaBitsActual: number; t1szKey?: string } {
  const v = vi.number('VA_BITS');
  if (v === undefined) bad('VMCOREINFO lacks NUMBER(VA_BITS): cannot lay out the arm64 page tables', 'NUMBER(VA_BITS)');
  const vaBits = Number(v);
  if (vaBits < 36 || vaBits > 52 || arm64Levels(vaBits, pageShift) < 2) {
    bad(`NUMBER(VA_BITS)=${v} is not an arm64 VA size (36..52) for ${1 << pageShift}-byte pages`, 'NUMBER(VA_BITS)');
  }
  const t1szKey = vi.has('NUMBER(TCR_EL1_T1SZ)') ? 'NUMBER(TCR_EL1_T1SZ)' : vi.has('NUMBER(tcr_el1_t1sz)') ? 'NUMBER(tcr_el1_t1sz)' : undefined;
  if (t1szKey === undefined) {
    // A 52-bit kernel falls back to 48 (47 with 16K pages) bits on hardware without LVA/LPA2:
    // only T1SZ says which (the Linux 5.9 commit "arm64/crash_core: Export TCR_EL1.T1SZ in vmcoreinfo"; hash not checked here).
    if (vaBits === 52) bad('VMCOREINFO has NUMBER(VA_BITS)=52 but lacks NUMBER(TCR_EL1_T1SZ): the VA size in use cannot be decided', 'NUMBER(TCR_EL1_T1SZ)');
    return { vaBits, vaBitsActual: vaBits };
  }
  const t1sz = vi.number(t1szKey.slice(7, -1))!;
  const vaBitsActual = 64 - Number(t1sz);
  const fallback = vaBits === 52 && (vaBitsActual === 48 || (vaBitsActual === 47 && pageShift === 14));
  if (vaBitsActual !== vaBits && !fallback) {
    bad(`${t1szKey}=${t1sz} (a ${vaBitsActual}-bit VA) contradicts NUMBER(VA_BITS)=${vaBits}`, t1szKey);
  }
  return { vaBits, vaBitsActual, t1szKey };
}

/** Decide the arm64 layout from VMCOREINFO; throws E_VMCOREINFO naming what is missing or inconsistent. */
export function arm64LayoutFromVmcoreinfo(vi: Vmcoreinfo): Arm64Layout {
  const pageSize = vi.pageSize;
  if (pageSize === undefined) bad('VMCOREINFO lacks PAGESIZE: the arm64 granule cannot be decided', 'PAGESIZE');
  const pageShift = pageSize === 4096 ? 12 : pageSize === 16384 ? 14 : pageSize === 65536 ? 16 : 0;
  if (pageShift === 0) bad(`PAGESIZE=${pageSize} is not an arm64 granule (4096, 16384 or 65536)`, 'PAGESIZE');
  const { vaBits, vaBitsActual, t1szKey } = vaBitsOf(vi, pageShift);
  const kv = vi.number('kimage_voffset');
  if (kv === undefined) bad('VMCOREINFO lacks NUMBER(kimage_voffset): swapper_pg_dir cannot be located', 'NUMBER(kimage_voffset)');
  const kimageVoffset = BigInt.asUintN(64, kv);
  const pgd = vi.symbol('swapper_pg_dir');
  if (pgd === undefined) bad('VMCOREINFO lacks SYMBOL(swapper_pg_dir): cannot translate kernel addresses', 'SYMBOL(swapper_pg_dir)');
  // The kernel image sits in the upper half of the kernel VA space from 5.4 (the Linux commit
  // "arm64: mm: Flip kernel VA space"), in the lower half before: the image
  // symbol's bit VA_BITS−1 tells the layouts apart, no version check needed. _stext decides
  // when exported, so that swapper_pg_dir can be checked against the layout.
  const stext = vi.symbol('_stext');
  const flipped = ((stext ?? pgd) & (1n << BigInt(vaBits - 1))) !== 0n;
  const vaBitsMin = vaBits > 48 ? (pageShift === 14 ? 47 : 48) : vaBits;
  const pageOffset = flipped ? neg(vaBits) : neg(vaBits - 1);
  const pageEnd = flipped ? neg(vaBitsMin - 1) : 1n << 64n;
  const imageLow = flipped ? pageEnd : neg(vaBits);
  if (pgd < imageLow || (!flipped && pgd >= pageOffset)) {
    bad(`SYMBOL(swapper_pg_dir)=${hex(pgd)} is not a kernel-image address for NUMBER(VA_BITS)=${vaBits}`, 'SYMBOL(swapper_pg_dir)');
  }
  if (stext !== undefined && (pgd < stext || pgd - stext >= 1n << 32n)) {
    bad(`SYMBOL(swapper_pg_dir)=${hex(pgd)} lies outside the kernel image starting at SYMBOL(_stext)=${hex(stext)}`, 'SYMBOL(swapper_pg_dir)');
  }
  const pgdPhys = BigInt.asUintN(64, pgd - kimageVoffset);
  if (pgdPhys >= 1n << 52n || (pgdPhys & BigInt(pageSize - 1)) !== 0n) {
    bad(`SYMBOL(swapper_pg_dir)=${hex(pgd)} − NUMBER(kimage_voffset)=${hex(kimageVoffset)} = ${hex(pgdPhys)} is not a page-aligned physical address`, 'NUMBER(kimage_voffset)');
  }
  const po = vi.number('PHYS_OFFSET');
  const maxPhys = vi.numberAsInt('MAX_PHYSMEM_BITS');
  const decidedBy = ['PAGESIZE', 'NUMBER(VA_BITS)', 'NUMBER(kimage_voffset)', 'SYMBOL(swapper_pg_dir)'];
  if (t1szKey) decidedBy.push(t1szKey);
  if (maxPhys !== undefined) decidedBy.push('NUMBER(MAX_PHYSMEM_BITS)');
  return {
    pageSize,
    pageShift,
    vaBits,
    vaBitsActual,
    flipped,
    pageOffset,
    pageEnd,
    physOffset: po === undefined ? undefined : BigInt.asUintN(64, po),
    kimageVoffset,
    kernelOffset: vi.kernelOffset,
    vmemmapStart: vi.number('VMEMMAP_START') === undefined ? undefined : BigInt.asUintN(64, vi.number('VMEMMAP_START')!),
    pgdPhys,
    // 52-bit PAs: bits 15:12 of a 64K descriptor (CONFIG_ARM64_PA_BITS_52); with 4K/16K pages
    // 52-bit output addresses exist only with LPA2, which a 52-bit VA in use implies.
    pa52: pageShift === 16 && maxPhys === 52,
    lpa2: pageShift !== 16 && vaBitsActual === 52,
    decidedBy,
  };
}

/** `__lm_to_phys`: the physical address of a linear-map address, undefined outside the linear map or without PHYS_OFFSET. */
export function arm64LinearToPhys(l: Arm64Layout, va: bigint): bigint | undefined {
  if (l.physOffset === undefined || va < l.pageOffset || va >= l.pageEnd) return undefined;
  return BigInt.asUintN(64, va - l.pageOffset + l.physOffset);
}

/** `__phys_to_virt`: the linear-map address of a physical address (PHYS_OFFSET must be exported). */
export function arm64PhysToLinear(l: Arm64Layout, pa: bigint): bigint | undefined {
  if (l.physOffset === undefined) return undefined;
  // modulo 2^64: a 52-bit kernel on 48-bit hardware lowers memstart_addr below 0
  // (arm64_memblock_init), so PHYS_OFFSET reads as a huge unsigned value
  const va = BigInt.asUintN(64, pa - l.physOffset + l.pageOffset);
  return va >= l.pageOffset && va < l.pageEnd ? va : undefined;
}

/** `__kimg_to_phys`: a kernel-image address minus kimage_voffset. */
export function arm64KimgToPhys(l: Arm64Layout, va: bigint): bigint {
  return BigInt.asUintN(64, va - l.kimageVoffset);
}

/** The arm64 kernel translator: swapper_pg_dir walked with the layout's geometry. */
export function arm64KernelTranslatorFromVmcoreinfo(vi: Vmcoreinfo, readPhysU64: ReadPhysU64): { translator: Arm64Translator; layout: Arm64Layout } {
  const layout = arm64LayoutFromVmcoreinfo(vi);
  if (readPhysU64(layout.pgdPhys) === undefined) {
    bad(`swapper_pg_dir at physical ${hex(layout.pgdPhys)} (SYMBOL(swapper_pg_dir) − NUMBER(kimage_voffset)) is not in the dump`, 'SYMBOL(swapper_pg_dir)');
  }
  const translator = createArm64Translator({
    readPhysU64,
    pgdPhys: layout.pgdPhys,
    pageShift: layout.pageShift,
    vaBits: layout.vaBits,
    vaBitsActual: layout.vaBitsActual,
    pa52: layout.pa52,
    lpa2: layout.lpa2,
  });
  return { translator, layout };
}
