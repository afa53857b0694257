/**
 * arm64 kernel page tables built for real (Arm ARM D8 VMSAv8-64 descriptors, the layout of
 * arch/arm64/include/asm/pgtable-hwdef.h): granule-sized tables of u64 descriptors, 4/16/64 KiB
 * granules, ARM64_HW_PGTABLE_LEVELS(VA_BITS) levels, page and block leaves. Table pages come
 * from a caller-supplied allocator and live in a pfn → bytes map, as on x86_64.
 */
import { VmcoreError, hex } from '../errors.js';
import { TablePages } from './tablepages.js';

/** Table descriptor: valid | table. */
const DESC_TABLE = 3n;
/** Leaf attributes: AF | SH inner shareable | AttrIndx 0 (normal memory), valid. */
const LEAF_ATTRS = (1n << 10n) | (3n << 8n);
/** Bits 9:8: SH without LPA2, PA[51:50] with it (shareability then comes from TCR_EL1). */
const SH = 3n << 8n;
/** PXN | UXN: data, never executed. */
const XN = (1n << 53n) | (1n << 54n);
/** AP[2]: read-only (kernel text). */
const RDONLY = 1n << 7n;
/** Kernel data: writable, never executable. */
export const ARM64_DATA = LEAF_ATTRS | XN;
/** Kernel text: read-only, executable by the kernel (UXN only). */
export const ARM64_TEXT = LEAF_ATTRS | RDONLY | (1n << 54n);

export class Arm64PageTables extends TablePages {
  readonly pageShift: number;
  readonly levels: number;
  private readonly bitsPerLevel: number;
  private readonly oaMask: bigint;
  constructor(
    readonly pageSize: number,
    readonly vaBits: number,
    topPfn: number,
    allocTable: () => number,
    pages: Map<number, Buffer>,
    /** LPA2 descriptors (52-bit VA with 4/16 KiB pages): bits 9:8 are address, not SH. */
    readonly lpa2 = false,
  ) {
    super(pageSize, topPfn, allocTable, pages, 'arm64 page tables');
    this.pageShift = Math.log2(pageSize);
    this.bitsPerLevel = this.pageShift - 3;
    this.levels = Math.floor((vaBits - 4) / this.bitsPerLevel);
    this.oaMask = ((1n << 48n) - 1n) & ~(BigInt(pageSize) - 1n);
  }

  protected tableEntry(pfn: number): bigint {
    return (BigInt(pfn) * BigInt(this.pageSize)) | DESC_TABLE;
  }
  protected isTable(e: bigint): boolean {
    return (e & 3n) === DESC_TABLE;
  }
  protected tablePfn(e: bigint): number {
    return Number((e & this.oaMask) / BigInt(this.pageSize));
  }

  /** Shift of the bits level `l` indexes (0 = the page level). */
  shiftOf(level: number): number {
    return this.pageShift + level * this.bitsPerLevel;
  }

  /** Index of `va` in the table at `level`. */
  private index(va: bigint, level: number): number {
    const bits = level === this.levels - 1 ? this.vaBits - this.shiftOf(level) : this.bitsPerLevel;
    return Number((va >> BigInt(this.shiftOf(level))) & ((1n << BigInt(bits)) - 1n));
  }

  /** The largest leaf (page, or a block at level 1, or level 2 with 4K pages) that maps `va` → `pa` within `room` bytes. */
  leafSize(va: bigint, pa: number, room: number): number {
    const maxLevel = this.pageShift === 12 ? 2 : 1;
    for (let l = maxLevel; l >= 1; l--) {
      const size = 2 ** this.shiftOf(l);
      if (pa % size === 0 && va % BigInt(size) === 0n && room >= size) return size;
    }
    return this.pageSize;
  }

  /** Map one leaf of `size` bytes (a page or a block) at `va` to `pa`. */
  map(va: bigint, pa: number, size: number, attrs: bigint): void {
    let leafLevel = -1;
    for (let l = 0; l < this.levels - 1; l++) if (2 ** this.shiftOf(l) === size) leafLevel = l;
    if (leafLevel < 0 || (leafLevel === 2 && this.pageShift !== 12) || pa % size !== 0 || va % BigInt(size) !== 0n) {
      throw new VmcoreError('E_INTERNAL', `arm64 page tables: bad mapping ${hex(va)} -> ${hex(pa)} size ${size}`);
    }
    let table = this.topPfn;
    for (let level = this.levels - 1; ; level--) {
      const idx = this.index(va, level);
      const b = this.page(table);
      if (level === leafLevel) {
        this.setLeaf(b, idx, BigInt(pa) | (this.lpa2 ? attrs & ~SH : attrs) | (level === 0 ? 3n : 1n), va);
        return;
      }
      table = this.childTable(b, idx, va, 'block');
    }
  }

  /** Map `[va, va+len)` → `[pa, …)` with the largest leaves that fit. */
  mapRange(va: bigint, pa: number, len: number, attrs: bigint, maxLeaf = Infinity): void {
    let off = 0;
    while (off < len) {
      const size = Math.min(maxLeaf, this.leafSize(va + BigInt(off), pa + off, len - off));
      this.map(va + BigInt(off), pa + off, size, attrs);
      off += size;
    }
  }
}
