/**
 * The physical and virtual layout of a simulated x86_64 machine: RAM ranges with a PCI-like
 * gap, the low 1 MiB and crashkernel left out of the PT_LOADs, where the kernel image sits, and
 * the (optionally randomised) PAGE_OFFSET, vmemmap and kernel text bases.
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

/** A byte range [start, end) of physical memory. */
export interface PhysRange {
  start: number;
  end: number;
}

/** Everything positional about the simulated machine. */
export interface SimLayout {
  memBytes: number;
  /** RAM, ascending; total size = memBytes. */
  ram: PhysRange[];
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
}

/** Compute the layout for a RAM size, paging mode and (with kaslr) seeded randomisation. */
export function computeLayout(memBytesIn: number, l5: boolean, kaslr: boolean, rng: Rng): SimLayout {
  if (!Number.isFinite(memBytesIn) || memBytesIn < 64 * MiB || memBytesIn > 64 * GiB) {
    throw new VmcoreError('E_USAGE', `simulated RAM size ${memBytesIn} is outside 64 MiB .. 64 GiB`, { option: 'memBytes' });
  }
  const memBytes = Math.floor(memBytesIn / (2 * MiB)) * 2 * MiB;
  let gap: PhysRange | null = null;
  let ram: PhysRange[];
  if (memBytes > 128 * MiB) {
    const sect = 128 * MiB;
    const g = Math.min(3 * GiB, Math.max(sect, Math.floor((memBytes * 3) / 4 / sect) * sect));
    gap = { start: g, end: g + GAP_BYTES };
    ram = [
      { start: 0, end: g },
      { start: g + GAP_BYTES, end: memBytes + GAP_BYTES },
    ];
  } else {
    ram = [{ start: 0, end: memBytes }];
  }
  const ramEnd = ram[ram.length - 1]!.end;
  const low: PhysRange = { start: 0, end: MiB };
  const crashSize = Math.min(128 * MiB, Math.floor(memBytes / 8 / (2 * MiB)) * 2 * MiB);
  const firstEnd = ram[0]!.end;
  const crashStart = Math.floor((firstEnd - crashSize - (gap ? 0 : 16 * MiB)) / (2 * MiB)) * 2 * MiB;
  const crashkernel: PhysRange = { start: crashStart, end: crashStart + crashSize };

  // kernel image: 16 MiB (CONFIG_PHYSICAL_START) or a random 2 MiB-aligned place below crashkernel
  let kernelPhys = 16 * MiB;
  if (kaslr) {
    const top = Math.min(crashkernel.start, GiB) - KERNEL_IMAGE_BYTES;
    const slots = Math.max(0, Math.floor((top - 16 * MiB) / (2 * MiB)));
    kernelPhys = 16 * MiB + 2 * MiB * rng.int(slots + 1);
  }
  if (kernelPhys + KERNEL_IMAGE_BYTES > crashkernel.start) {
    throw new VmcoreError('E_USAGE', `no room for the kernel image below crashkernel with ${memBytes} bytes of RAM`);
  }
  // virtual offset: phys_base = phys(_text) − (_text − __START_KERNEL_map) must stay ≥ 0
  let kernelOffset = 0n;
  if (kaslr) {
    const maxOff = Math.min(kernelPhys - 16 * MiB, 512 * MiB);
    kernelOffset = BigInt(2 * MiB * rng.int(Math.floor(maxOff / (2 * MiB)) + 1));
  }
  const text = DEFAULT_TEXT + kernelOffset;
  const physBase = BigInt(kernelPhys) - (text - START_KERNEL_MAP);

  let pageOffset = l5 ? 0xff11000000000000n : 0xffff888000000000n;
  let vmemmap = l5 ? 0xffd4000000000000n : 0xffffea0000000000n;
  if (kaslr) {
    pageOffset += BigInt(GiB) * BigInt(rng.int(1024));
    vmemmap += BigInt(GiB) * BigInt(rng.int(1024));
  }

  const loads: PhysRange[] = [];
  for (const r of ram) {
    let pieces: PhysRange[] = [{ ...r }];
    for (const cut of [low, crashkernel]) {
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
  const sectionBytes = 2 ** SECTION_SIZE_BITS;
  const nSections = Math.ceil(ramEnd / sectionBytes);
  const presentSections: number[] = [];
  for (let s = 0; s < nSections; s++) {
    const a = s * sectionBytes;
    const b = a + sectionBytes;
    if (ram.some((r) => r.start < b && r.end > a)) presentSections.push(s);
  }
  return {
    memBytes,
    ram,
    gap,
    low,
    crashkernel,
    loads,
    kernelPhys,
    kernelBytes: KERNEL_IMAGE_BYTES,
    text,
    kernelOffset,
    physBase,
    pageOffset,
    vmemmap,
    l5,
    maxPhysmemBits: l5 ? 52 : 46,
    ramEnd,
    maxMapnr: ramEnd / PAGE_SIZE,
    nPfns: nSections * PAGES_PER_SECTION,
    presentSections,
  };
}
