/**
 * x86_64 page tables built for real (4- or 5-level), as physical 4 KiB pages holding u64 entries.
 * Table pages come from a caller-supplied allocator; the pages live in a pfn → bytes map.
 */
import { VmcoreError, hex } from '../errors.js';

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

export class PageTables {
  readonly shifts: number[];
  tablePages = 0;
  constructor(
    readonly l5: boolean,
    readonly topPfn: number,
    private readonly allocTable: () => number,
    private readonly pages: Map<number, Buffer>,
  ) {
    this.shifts = l5 ? [48, 39, 30, 21, 12] : [39, 30, 21, 12];
    this.page(topPfn);
  }

  private page(pfn: number): Buffer {
    let b = this.pages.get(pfn);
    if (!b) {
      b = Buffer.alloc(4096);
      this.pages.set(pfn, b);
    }
    return b;
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
        const e = BigInt(pa) | leafFlags | (leafShift > 12 ? PSE : 0n);
        if (b.readBigUInt64LE(idx * 8) !== 0n) throw new VmcoreError('E_INTERNAL', `page tables: ${hex(va)} mapped twice`);
        b.writeBigUInt64LE(e, idx * 8);
        return;
      }
      let e = b.readBigUInt64LE(idx * 8);
      if (e === 0n) {
        const pfn = this.allocTable();
        this.page(pfn);
        this.tablePages++;
        e = (BigInt(pfn) << 12n) | PTE_TABLE;
        b.writeBigUInt64LE(e, idx * 8);
      } else if (e & PSE) {
        throw new VmcoreError('E_INTERNAL', `page tables: ${hex(va)} lies under a large page`);
      }
      table = Number((e & ADDR_MASK) >> 12n);
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
