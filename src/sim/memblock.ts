/**
 * A memblock-like boot allocator: reserved ranges over RAM, allocations top-down (as the
 * kernel's memblock does by default on x86_64), each allocation becoming a reserved range.
 */
import { VmcoreError } from '../errors.js';
import type { PhysRange } from './layout.js';

export interface MemblockRegion extends PhysRange {
  label: string;
}

export class Memblock {
  readonly reserved: MemblockRegion[] = [];
  /**
   * `allocRam`: the RAM allocations may come from (memblock.current_limit's role): the boot
   * memory, so RAM at a high address (the sim's --high-mem) is all left to the buddy allocator.
   */
  constructor(
    readonly ram: PhysRange[],
    readonly allocRam: PhysRange[] = ram,
  ) {}

  reserve(start: number, end: number, label: string): void {
    this.reserved.push({ start, end, label });
    this.reserved.sort((a, b) => a.start - b.start);
  }

  /** Allocate `size` bytes aligned to `align`, highest address first. */
  alloc(size: number, align: number, label: string): number {
    for (let i = this.allocRam.length - 1; i >= 0; i--) {
      const r = this.allocRam[i]!;
      let cand = Math.floor((r.end - size) / align) * align;
      while (cand >= r.start) {
        const hit = this.reserved.find((x) => x.start < cand + size && x.end > cand);
        if (!hit) {
          this.reserve(cand, cand + size, label);
          return cand;
        }
        cand = Math.floor((hit.start - size) / align) * align;
      }
    }
    throw new VmcoreError('E_USAGE', `memblock: no room for ${size} bytes (${label}); give the machine more RAM`);
  }

  /** RAM minus reserved, ascending. */
  freeRanges(): PhysRange[] {
    const out: PhysRange[] = [];
    for (const r of this.ram) {
      let pos = r.start;
      for (const x of this.reserved) {
        if (x.end <= pos || x.start >= r.end) continue;
        if (x.start > pos) out.push({ start: pos, end: x.start });
        pos = Math.max(pos, x.end);
      }
      if (pos < r.end) out.push({ start: pos, end: r.end });
    }
    return out;
  }
}
