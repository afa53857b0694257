/**
 * The physical and virtual layout of a simulated machine: RAM ranges with a PCI-like gap,
 * crashkernel (and on x86_64 the low 1 MiB) left out of the PT_LOADs, where the kernel image
 * sits, and the (optionally randomised) PAGE_OFFSET, vmemmap and kernel text bases. x86_64 is
 * the default; arm64 follows Linux 6.12's arch/arm64/include/asm/memory.h (flipped VA space,
 * VA_BITS=48, RAM from 1 GiB as on QEMU's virt board).
 */
import { VmcoreError } from '../errors.js';
import { Rng } from './rng.js';

export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;
export const MiB = 1 << 20;
export const GiB = 2 ** 30;
export const SECTION_SIZE_BITS = 27;
export const PAGES_PER_SECTION = 1 << (SECTION_SIZE_BITS - PAGE_SHIFT);
export const START_KERNEL_MAP = 0xffffffff80000000n;
export const DEFAULT_TEXT = 0xffffffff81000000n;
/** Size of the reserved kernel image (text + data + bss). */
export const KERNEL_IMAGE_BYTES = 24 * MiB;
/** NUMBER(KERNEL_IMAGE_SIZE): 1 GiB on CONFIG_RANDOMIZE_BASE builds. */
export const KERNEL_IMAGE_SIZE = 1 << 30;
const GAP_BYTES = 256 * MiB;

/** The simulated architectures. */
export type SimArch = 'x86_64' | 'arm64';
/** arm64: RAM (and memstart_addr, PHYS_OFFSET) starts at 1 GiB, as on QEMU's virt board. */
export const ARM64_RAM_BASE = GiB;
/** arm64 CONFIG_ARM64_VA_BITS of the simulated kernels by default (`vaBits` 52: LPA2 / 52-bit PA). */
export const ARM64_VA_BITS = 48;
/** arm64 KIMAGE_VADDR (6.12) at VA_BITS 48: MODULES_END = _PAGE_END(48) + 2 GiB. */
export const ARM64_KIMAGE_VADDR = 0xffff800080000000n;
const U64 = (1n << 64n) - 1n;

/** SECTION_SIZE_BITS (arch/arm64/include/asm/sparsemem.h: 29 with 64K pages, 27 otherwise; x86_64 27). */
export function sectionSizeBitsOf(arch: SimArch, pageSize: number): number {
  return arch === 'arm64' && pageSize === 65536 ? 29 : SECTION_SIZE_BITS;
}

/** A byte range [start, end) of physical memory. */
export interface PhysRange {
  start: number;
  end: number;
}

/** Everything positional about the simulated machine. */
export interface SimLayout {
  memBytes: number;
  /** RAM, ascending; total size = memBytes (+ the high range's bytes). */
  ram: PhysRange[];
  /** RAM boot allocations come from (memblock's limit): `ram` without the high range. */
  bootRam: PhysRange[];
  /** RAM at a high physical address (`highMem`), or null. */
  high: PhysRange | null;
  /** The absent 256 MiB between RAM ranges (two whole sections), or null on small machines. */
  gap: PhysRange | null;
  /** Low memory kexec leaves out of the PT_LOADs. */
  low: PhysRange;
  crashkernel: PhysRange;
  /** RAM ranges written as PT_LOADs (RAM minus low 1 MiB and crashkernel). */
  loads: PhysRange[];
  /** Physical address of `_text`. */
  kernelPhys: number;
  kernelBytes: number;
  /** Virtual address of `_text`. */
  text: bigint;
  /** KERNELOFFSET = text − 0xffffffff81000000. */
  kernelOffset: bigint;
  physBase: bigint;
  pageOffset: bigint;
  vmemmap: bigint;
  l5: boolean;
  maxPhysmemBits: number;
  /** End of RAM (exclusive), bytes. */
  ramEnd: number;
  /** max_mapnr: end pfn of the last PT_LOAD. */
  maxMapnr: number;
  /** Pfns covered by sections (multiple of 32768). */
  nPfns: number;
  /** Section numbers that have memory (a mem_section entry and struct pages). */
  presentSections: number[];
  arch: SimArch;
  pageSize: number;
  pageShift: number;
  sectionSizeBits: number;
  pagesPerSection: number;
  /** Physical address of PAGE_OFFSET (arm64 PHYS_OFFSET = memstart_addr; 0 on x86_64). */
  physOffset: number;
  /** Kernel-image virtual minus physical (arm64 kimage_voffset; x86_64 __START_KERNEL_map − phys_base). */
  kimageVoffset: bigint;
  /** arm64 VMEMMAP_START (the struct page of PHYS_OFFSET); 0 on x86_64. */
  vmemmapStart: bigint;
  /** arm64 CONFIG_ARM64_VA_BITS, all in use (0 on x86_64). */
  vaBits: number;
  /** arm64 KIMAGE_VADDR = MODULES_END (0 on x86_64). */
  kimageVaddr: bigint;
}

/** Compute the layout for a RAM size, paging mode and (with kaslr) seeded randomisation. */
export function computeLayout(
  memBytesIn: number,
  l5: boolean,
  kaslr: boolean,
  rng: Rng,
  arch: SimArch = 'x86_64',
  pageSize = PAGE_SIZE,
  structPageSize = 64,
  vaBits = ARM64_VA_BITS,
  highMem: HighMem | null = null,
): SimLayout {
  if (arch === 'arm64') {
    if (highMem) throw new VmcoreError('E_USAGE', '--high-mem is an x86_64 option', { option: 'highMem' });
    return computeArm64Layout(memBytesIn, kaslr, rng, pageSize, structPageSize, vaBits);
  }
  return computeX86Layout(memBytesIn, l5, kaslr, rng, highMem);
}

/**
 * x86_64: RAM from 0 (plus the high range), the low 1 MiB and crashkernel left out of the
 * PT_LOADs, 4 KiB pages, 128 MiB sections.
 */
function computeX86Layout(memBytesIn: number, l5: boolean, kaslr: boolean, rng: Rng, highMem: HighMem | null): SimLayout {
  const memBytes = checkMem(memBytesIn);
  const { ram: bootRam, gap } = ramWithGap(0, memBytes);
  const maxPhysmemBits = l5 ? 52 : 46;
  const high = highMem ? checkHighMem(highMem, bootRam[bootRam.length - 1]!.end, maxPhysmemBits) : null;
  const ram = high ? [...bootRam, high] : bootRam;
  const ramEnd = ram[ram.length - 1]!.end;
  const low: PhysRange = { start: 0, end: MiB };
  const crashkernel = crashkernelOf(memBytes, ram[0]!, gap);
  const { kernelPhys, kernelOffset, text, physBase } = placeX86Kernel(kaslr, rng, crashkernel, memBytes);
  const { pageOffset, vmemmap } = x86MapBases(l5, kaslr, rng);
  const sectionBytes = 2 ** SECTION_SIZE_BITS;
  return {
    memBytes,
    ram,
    bootRam,
    high,
    gap,
    low,
    crashkernel,
    loads: cutRanges(ram, [low, crashkernel]),
    kernelPhys,
    kernelBytes: KERNEL_IMAGE_BYTES,
    text,
    kernelOffset,
    physBase,
    pageOffset,
    vmemmap,
    l5,
    maxPhysmemBits,
    ramEnd,
    maxMapnr: ramEnd / PAGE_SIZE,
    nPfns: Math.ceil(ramEnd / sectionBytes) * PAGES_PER_SECTION,
    presentSections: sectionsOf(ram, sectionBytes),
    arch: 'x86_64',
    pageSize: PAGE_SIZE,
    pageShift: PAGE_SHIFT,
    sectionSizeBits: SECTION_SIZE_BITS,
    pagesPerSection: PAGES_PER_SECTION,
    physOffset: 0,
    kimageVoffset: START_KERNEL_MAP - physBase,
    vmemmapStart: 0n,
    vaBits: 0,
    kimageVaddr: 0n,
  };
}

/**
 * RAM of `memBytes` from physical `base`; past 128 MiB it is split by a 256 MiB hole (two
 * whole sections, like a PCI hole) at about three quarters of it, at most 3 GiB up.
 */
function ramWithGap(base: number, memBytes: number): { ram: PhysRange[]; gap: PhysRange | null } {
  if (memBytes <= 128 * MiB) return { ram: [{ start: base, end: base + memBytes }], gap: null };
  const sect = 128 * MiB;
  const g = Math.min(3 * GiB, Math.max(sect, Math.floor((memBytes * 3) / 4 / sect) * sect));
  const gap = { start: base + g, end: base + g + GAP_BYTES };
  const ram = [
    { start: base, end: base + g },
    { start: base + g + GAP_BYTES, end: base + memBytes + GAP_BYTES },
  ];
  return { ram, gap };
}

/**
 * crashkernel=: an eighth of RAM up to 128 MiB, in 2 MiB units, at the top of the first RAM
 * range (16 MiB below its end when there is no gap).
 */
function crashkernelOf(memBytes: number, first: PhysRange, gap: PhysRange | null): PhysRange {
  const crashSize = Math.min(128 * MiB, Math.floor(memBytes / 8 / (2 * MiB)) * 2 * MiB);
  const crashStart = Math.floor((first.end - crashSize - (gap ? 0 : 16 * MiB)) / (2 * MiB)) * 2 * MiB;
  return { start: crashStart, end: crashStart + crashSize };
}

/** The kernel image must end below crashkernel (small machines have no room). */
function checkKernelRoom(kernelPhys: number, crashkernel: PhysRange, memBytes: number): void {
  if (kernelPhys + KERNEL_IMAGE_BYTES > crashkernel.start) {
    throw new VmcoreError('E_USAGE', `no room for the kernel image below crashkernel with ${memBytes} bytes of RAM`);
  }
}

/**
 * x86_64 `_text`: physically at 16 MiB (CONFIG_PHYSICAL_START) or, with kaslr, a random 2 MiB-
 * aligned place below crashkernel; virtually at 0xffffffff81000000 plus, with kaslr, a random
 * offset small enough that phys_base = phys(_text) − (_text − __START_KERNEL_map) stays ≥ 0.
 */
function placeX86Kernel(kaslr: boolean, rng: Rng, crashkernel: PhysRange, memBytes: number) {
  let kernelPhys = 16 * MiB;
  if (kaslr) {
    const top = Math.min(crashkernel.start, GiB) - KERNEL_IMAGE_BYTES;
    const slots = Math.max(0, Math.floor((top - 16 * MiB) / (2 * MiB)));
    kernelPhys = 16 * MiB + 2 * MiB * rng.int(slots + 1);
  }
  checkKernelRoom(kernelPhys, crashkernel, memBytes);
  let kernelOffset = 0n;
  if (kaslr) {
    const maxOff = Math.min(kernelPhys - 16 * MiB, 512 * MiB);
    kernelOffset = BigInt(2 * MiB * rng.int(Math.floor(maxOff / (2 * MiB)) + 1));
  }
  const text = DEFAULT_TEXT + kernelOffset;
  const physBase = BigInt(kernelPhys) - (text - START_KERNEL_MAP);
  return { kernelPhys, kernelOffset, text, physBase };
}

/** x86_64 PAGE_OFFSET and vmemmap base (4- or 5-level), moved by whole GiB with kaslr. */
function x86MapBases(l5: boolean, kaslr: boolean, rng: Rng): { pageOffset: bigint; vmemmap: bigint } {
  let pageOffset = l5 ? 0xff11000000000000n : 0xffff888000000000n;
  let vmemmap = l5 ? 0xffd4000000000000n : 0xffffea0000000000n;
  if (kaslr) {
    pageOffset += BigInt(GiB) * BigInt(rng.int(1024));
    vmemmap += BigInt(GiB) * BigInt(rng.int(1024));
  }
  return { pageOffset, vmemmap };
}

/** `highMem`: RAM of `bytes` at physical `start` (the sim's --high-mem SIZE@ADDR). */
export interface HighMem {
  start: number;
  bytes: number;
}

/**
 * The high range must be whole 2 MiB pages (the direct map's unit), start in a section of its
 * own above the boot RAM, and end within MAX_PHYSMEM_BITS (46 bits, 64 TiB, on 4-level x86_64;
 * 52 with --l5). The vmemmap then fits too: 2^46 / 4096 struct pages of 64 bytes are 1 TiB,
 * the size of x86_64's vmemmap region (ffffea0000000000..ffffeaffffffffff).
 */
function checkHighMem(h: HighMem, bootEnd: number, maxPhysmemBits: number): PhysRange {
  const sectionBytes = 2 ** SECTION_SIZE_BITS;
  const where = `high memory ${h.bytes} bytes at 0x${h.start.toString(16)}`;
  if (!Number.isSafeInteger(h.start) || !Number.isSafeInteger(h.bytes) || h.bytes < 2 * MiB || h.bytes % (2 * MiB) || h.start % (2 * MiB)) {
    throw new VmcoreError('E_USAGE', `${where}: size and address must be multiples of 2 MiB, size at least 2 MiB`, { option: 'highMem' });
  }
  if (h.start < Math.ceil(bootEnd / sectionBytes) * sectionBytes) {
    throw new VmcoreError('E_USAGE', `${where}: must start in a 128 MiB section above the machine's RAM (which ends at 0x${bootEnd.toString(16)})`, { option: 'highMem' });
  }
  if (h.start + h.bytes > 2 ** maxPhysmemBits) {
    throw new VmcoreError('E_USAGE', `${where}: ends past MAX_PHYSMEM_BITS ${maxPhysmemBits} (0x${(2 ** maxPhysmemBits).toString(16)})${maxPhysmemBits < 52 ? '; 5-level paging (--l5) has 52' : ''}`, { option: 'highMem' });
  }
  return { start: h.start, end: h.start + h.bytes };
}

/** Section numbers that hold some RAM, ascending (computed per range: no loop over the holes). */
function sectionsOf(ram: PhysRange[], sectionBytes: number): number[] {
  const out: number[] = [];
  for (const r of ram) {
    for (let s = Math.floor(r.start / sectionBytes); s < Math.ceil(r.end / sectionBytes); s++) {
      if (out[out.length - 1] !== s) out.push(s);
    }
  }
  return out;
}

function checkMem(memBytesIn: number): number {
  if (!Number.isFinite(memBytesIn) || memBytesIn < 64 * MiB || memBytesIn > 64 * GiB) {
    throw new VmcoreError('E_USAGE', `simulated RAM size ${memBytesIn} is outside 64 MiB .. 64 GiB`, { option: 'memBytes' });
  }
  return Math.floor(memBytesIn / (2 * MiB)) * 2 * MiB;
}

/** RAM minus the cuts (kexec leaves them out of the PT_LOADs). */
function cutRanges(ram: PhysRange[], cuts: PhysRange[]): PhysRange[] {
  const loads: PhysRange[] = [];
  for (const r of ram) {
    let pieces: PhysRange[] = [{ ...r }];
    for (const cut of cuts) {
      const next: PhysRange[] = [];
      for (const p of pieces) {
        if (cut.end <= p.start || cut.start >= p.end) next.push(p);
        else {
          if (p.start < cut.start) next.push({ start: p.start, end: cut.start });
          if (cut.end < p.end) next.push({ start: cut.end, end: p.end });
        }
      }
      pieces = next;
    }
    loads.push(...pieces);
  }
  return loads;
}

/**
 * arm64 (Linux 6.12 arch/arm64/include/asm/memory.h, all VA_BITS in use): linear map at
 * PAGE_OFFSET = −2^VA_BITS for PHYS_OFFSET = 1 GiB, ending at PAGE_END = −2^(VA_BITS_MIN−1)
 * (VA_BITS_MIN 48, 47 with 16K pages, when VA_BITS is 52); VMEMMAP_START = −1 GiB −
 * VMEMMAP_SIZE with VMEMMAP_SIZE = ((PAGE_END − PAGE_OFFSET) >> PAGE_SHIFT) · sizeof(struct
 * page), vmemmap = VMEMMAP_START − (memstart_addr >> PAGE_SHIFT) struct pages; the image at
 * KIMAGE_VADDR = PAGE_END + 2 GiB (+ a 2 MiB-aligned KASLR offset), kimage_voffset = _text −
 * phys(_text). These give the values of a real Debian 6.12 VA_BITS=52 VMCOREINFO at 4 and 16 KiB.
 */
function computeArm64Layout(memBytesIn: number, kaslr: boolean, rng: Rng, pageSize: number, sp: number, vaBits: number): SimLayout {
  checkArm64Granule(pageSize, vaBits);
  const memBytes = checkMem(memBytesIn);
  const base = ARM64_RAM_BASE;
  const pageShift = Math.log2(pageSize);
  const sectionSizeBits = sectionSizeBitsOf('arm64', pageSize);
  const pagesPerSection = 2 ** (sectionSizeBits - pageShift);
  const { ram, gap } = ramWithGap(base, memBytes);
  const ramEnd = ram[ram.length - 1]!.end;
  const low: PhysRange = { start: base, end: base }; // arm64 reserves no low memory
  const crashkernel = crashkernelOf(memBytes, ram[0]!, gap);
  const { kernelPhys, kernelOffset } = placeArm64Kernel(kaslr, rng, base, crashkernel, memBytes);
  const { kimageVaddr, pageOffset, vmemmapStart, vmemmap } = arm64MapBases(vaBits, pageSize, sp, base);
  const text = kimageVaddr + kernelOffset;
  const sectionBytes = 2 ** sectionSizeBits;
  return {
    memBytes,
    ram,
    bootRam: ram,
    high: null,
    gap,
    low,
    crashkernel,
    loads: cutRanges(ram, [crashkernel]),
    kernelPhys,
    kernelBytes: KERNEL_IMAGE_BYTES,
    text,
    kernelOffset,
    physBase: 0n,
    pageOffset,
    vmemmap,
    l5: false,
    maxPhysmemBits: vaBits === 52 ? 52 : 48,
    ramEnd,
    maxMapnr: ramEnd / pageSize,
    nPfns: Math.ceil(ramEnd / sectionBytes) * pagesPerSection,
    presentSections: sectionsOf(ram, sectionBytes),
    arch: 'arm64',
    pageSize,
    pageShift,
    sectionSizeBits,
    pagesPerSection,
    physOffset: base,
    kimageVoffset: text - BigInt(kernelPhys),
    vmemmapStart,
    vaBits,
    kimageVaddr,
  };
}

function checkArm64Granule(pageSize: number, vaBits: number): void {
  if (pageSize !== 4096 && pageSize !== 16384 && pageSize !== 65536) {
    throw new VmcoreError('E_USAGE', `arm64 page size ${pageSize} is not 4k, 16k or 64k`, { option: 'pageSize' });
  }
  if (vaBits !== 48 && vaBits !== 52) throw new VmcoreError('E_USAGE', `arm64 VA_BITS ${vaBits} is not 48 or 52`, { option: 'vaBits' });
}

/** arm64 `_text`: 16 MiB into RAM or, with kaslr, a random 2 MiB-aligned place below crashkernel, and a random 2 MiB-aligned virtual offset. */
function placeArm64Kernel(kaslr: boolean, rng: Rng, base: number, crashkernel: PhysRange, memBytes: number): { kernelPhys: number; kernelOffset: bigint } {
  let kernelPhys = base + 16 * MiB;
  let kernelOffset = 0n;
  if (kaslr) {
    const top = Math.min(crashkernel.start, base + GiB) - KERNEL_IMAGE_BYTES;
    kernelPhys += 2 * MiB * rng.int(Math.max(0, Math.floor((top - kernelPhys) / (2 * MiB))) + 1);
    kernelOffset = BigInt(2 * MiB) * BigInt(rng.int(1 << 14));
  }
  checkKernelRoom(kernelPhys, crashkernel, memBytes);
  return { kernelPhys, kernelOffset };
}

/** arm64 KIMAGE_VADDR, PAGE_OFFSET, VMEMMAP_START and vmemmap for PHYS_OFFSET `base` (see computeArm64Layout). */
function arm64MapBases(vaBits: number, pageSize: number, sp: number, base: number) {
  const vaBitsMin = vaBits > 48 ? (pageSize === 16384 ? 47 : 48) : vaBits;
  const pageEnd = (U64 << BigInt(vaBitsMin - 1)) & U64;
  const kimageVaddr = pageEnd + (2n << 30n);
  const pageOffset = (U64 << BigInt(vaBits)) & U64;
  const vmemmapSize = ((pageEnd - pageOffset) >> BigInt(Math.log2(pageSize))) * BigInt(sp);
  const vmemmapStart = ((U64 << 30n) & U64) - vmemmapSize;
  const vmemmap = vmemmapStart - BigInt(base / pageSize) * BigInt(sp);
  return { kimageVaddr, pageOffset, vmemmapStart, vmemmap };
}
