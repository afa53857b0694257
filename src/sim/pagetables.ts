/**
 * x86_64 page tables built for real (4- or 5-level), as physical 4 KiB pages holding u64 entries.
 * Table pages come from a caller-supplied allocator; the pages live in a pfn → bytes map.
 */
import { VmcoreError, hex } from '../errors.js';
import { TablePages } from './tablepages.js';

/** _KERNPG_TABLE: present | RW | accessed | dirty. */
export const PTE_TABLE = 0x63n;
const NX = 1n << 63n;
/** __PAGE_KERNEL_LARGE: present | RW | accessed | dirty | PSE | global, NX. */
export const PTE_LARGE_DATA = 0x1e3n | NX;
/** __PAGE_KERNEL_LARGE_EXEC without RW (kernel text): present | accessed | dirty | PSE | global. */
export const PTE_LARGE_TEXT = 0x1e1n;
/** __PAGE_KERNEL: present | RW | accessed | dirty | global, NX. */
export const PTE_4K_DATA = 0x163n | NX;
const PSE = 0x80n;
const ADDR_MASK = 0x000ffffffffff000n;

export class PageTables extends TablePages {
  readonly shifts: number[];
  constructor(
    readonly l5: boolean,
    topPfn: number,
    allocTable: () => number,
    pages: Map<number, Buffer>,
  ) {
    super(4096, topPfn, allocTable, pages, 'page tables');
    this.shifts = l5 ? [48, 39, 30, 21, 12] : [39, 30, 21, 12];
  }

  protected tableEntry(pfn: number): bigint {
    return (BigInt(pfn) << 12n) | PTE_TABLE;
  }
  protected isTable(e: bigint): boolean {
    return (e & PSE) === 0n;
  }
  protected tablePfn(e: bigint): number {
    return Number((e & ADDR_MASK) >> 12n);
  }

  /** Map `size` bytes (4 KiB, 2 MiB or 1 GiB; one entry) at `va` to physical `pa`. */
  map(va: bigint, pa: number, size: number, leafFlags: bigint): void {
    const leafShift = size === 4096 ? 12 : size === 2 << 20 ? 21 : size === 2 ** 30 ? 30 : -1;
    if (leafShift < 0 || pa % size !== 0 || va % BigInt(size) !== 0n) {
      throw new VmcoreError('E_INTERNAL', `page tables: bad mapping ${hex(va)} -> ${hex(pa)} size ${size}`);
    }
    let table = this.topPfn;
    for (const shift of this.shifts) {
      const idx = Number((va >> BigInt(shift)) & 511n);
      const b = this.page(table);
      if (shift === leafShift) {
        this.setLeaf(b, idx, BigInt(pa) | leafFlags | (leafShift > 12 ? PSE : 0n), va);
        return;
      }
      table = this.childTable(b, idx, va, 'large page');
    }
  }

  /** Translate a virtual address (for tests); undefined if not mapped. */
  translate(va: bigint): number | undefined {
    let table = this.topPfn;
    for (const shift of this.shifts) {
      const b = this.pages.get(table);
      if (!b) return undefined;
      const e = b.readBigUInt64LE(Number((va >> BigInt(shift)) & 511n) * 8);
      if (!(e & 1n)) return undefined;
      if (shift === 12 || (shift <= 30 && e & PSE)) {
        const m = (1n << BigInt(shift)) - 1n;
        return Number((e & ADDR_MASK & ~m) + (va & m));
      }
      table = Number((e & ADDR_MASK) >> 12n);
    }
    return undefined;
  }
}
