/**
 * A buddy allocator shaped like the kernel's (mm/page_alloc.c, Linux 6.0): zones, free_area[11]
 * with one free list per migratetype, pageblocks of order 9 with a migratetype each, split on
 * allocation (expand), fallback to other migratetypes with pageblock stealing, coalescing on free
 * with the buddy `pfn ^ (1 << order)`, and a memblock_free_all-style boot.
 *
 * Memory stays bounded by present memory: per-pfn state is one byte per pfn of each present
 * section (pfnstore.ts), none for the holes; the free lists are doubly linked lists kept in two
 * Maps keyed by the head pfn of each free block. Pfns may pass 2^32 (RAM at 60 TiB), so no
 * 32-bit bit operations touch a pfn.
 */
import { VmcoreError } from '../errors.js';
import { SectionArray, pfnBytes, pfnInt8 } from './pfnstore.js';

/** Orders 0..MAX_ORDER-1 (the kernel's MAX_ORDER = 11 on x86_64). */
export const MAX_ORDER = 11;
export const PAGEBLOCK_ORDER = 9;

/** Migrate types, in the kernel's enum order (6.0, CONFIG_CMA and CONFIG_MEMORY_ISOLATION). */
export const MIGRATE = { UNMOVABLE: 0, MOVABLE: 1, RECLAIMABLE: 2, HIGHATOMIC: 3, CMA: 4, ISOLATE: 5 } as const;
export const NR_MIGRATETYPES = 6;

/** mm/page_alloc.c `fallbacks[]` of 6.0 (CMA and ISOLATE are never fallen back to). */
const FALLBACKS: Record<number, number[]> = {
  [MIGRATE.UNMOVABLE]: [MIGRATE.RECLAIMABLE, MIGRATE.MOVABLE],
  [MIGRATE.MOVABLE]: [MIGRATE.RECLAIMABLE, MIGRATE.UNMOVABLE],
  [MIGRATE.RECLAIMABLE]: [MIGRATE.UNMOVABLE, MIGRATE.MOVABLE],
  [MIGRATE.HIGHATOMIC]: [],
  [MIGRATE.CMA]: [],
  [MIGRATE.ISOLATE]: [],
};

/** Per-pfn allocator state. */
export const PAGE_STATE = { ABSENT: 0, RESERVED: 1, FREE: 2, ALLOCATED: 3 } as const;

/** One zone: pfns [startPfn, endPfn); an empty zone has startPfn === endPfn (spanned 0). */
export interface ZoneSpan {
  name: string;
  startPfn: number;
  endPfn: number;
}

/** Standard x86_64 zones for a machine whose pfns end at `endPfn`: DMA, DMA32, Normal, Movable. */
export function x86Zones(endPfn: number): ZoneSpan[] {
  const dmaEnd = Math.min(endPfn, (16 << 20) / 4096);
  const dma32End = Math.min(endPfn, 2 ** 32 / 4096);
  return [
    { name: 'DMA', startPfn: 0, endPfn: dmaEnd },
    { name: 'DMA32', startPfn: dmaEnd, endPfn: dma32End },
    { name: 'Normal', startPfn: dma32End, endPfn: Math.max(dma32End, endPfn) },
    { name: 'Movable', startPfn: Math.max(dma32End, endPfn), endPfn: Math.max(dma32End, endPfn) },
  ];
}

/**
 * arm64 zones (6.12 with RAM below 4 GiB and no device limit): ZONE_DMA up to 4 GiB
 * (zone_dma_limit defaults to 32 bits), ZONE_DMA32 empty, then Normal and an empty Movable.
 */
export function arm64Zones(endPfn: number, pageSize: number): ZoneSpan[] {
  const dmaEnd = Math.min(endPfn, 2 ** 32 / pageSize);
  const top = Math.max(dmaEnd, endPfn);
  return [
    { name: 'DMA', startPfn: 0, endPfn: dmaEnd },
    { name: 'DMA32', startPfn: dmaEnd, endPfn: dmaEnd },
    { name: 'Normal', startPfn: dmaEnd, endPfn: top },
    { name: 'Movable', startPfn: top, endPfn: top },
  ];
}

const NONE = -1;
/** Pages per section when the caller gives no section map (x86_64: 2^27 bytes of 4 KiB pages). */
const DEFAULT_PAGES_PER_SECTION = 1 << 15;

/** The buddy of the order-`order` block at pfn (pfn ^ (1 << order), for pfns past 2^32 too). */
export function buddyOf(pfn: number, order: number): number {
  const n = 2 ** order;
  return Math.floor(pfn / n) % 2 === 1 ? pfn - n : pfn + n;
}

/** Pageblock index of a pfn. */
function pageblockOf(pfn: number): number {
  return Math.floor(pfn / (1 << PAGEBLOCK_ORDER));
}

export class BuddyAllocator {
  readonly nPfns: number;
  readonly zones: ZoneSpan[];
  /** PAGE_STATE per pfn. */
  readonly state: SectionArray<Uint8Array>;
  /** Order of the free block headed at this pfn, or -1. */
  readonly freeOrder: SectionArray<Int8Array>;
  /** Migratetype list a free head is on (valid where freeOrder ≥ 0). */
  readonly freeMt: SectionArray<Uint8Array>;
  /** Migratetype per pageblock (pfn >> 9). */
  readonly pageblockMt: SectionArray<Uint8Array>;
  /** Pages freed at boot per zone (the kernel's managed_pages). */
  readonly managed: number[];
  /** Free pages per zone. */
  readonly freePages: number[];
  private readonly listHead: Float64Array;
  private readonly listTail: Float64Array;
  private readonly listLen: Float64Array;
  private readonly next = new Map<number, number>();
  private readonly prev = new Map<number, number>();

  /**
   * Pfns [0, nPfns) of which `sections` (numbers, `pagesPerSection` pfns each) have state;
   * without `sections`, every section below nPfns.
   */
  constructor(nPfns: number, zones: ZoneSpan[], sections?: readonly number[], pagesPerSection = DEFAULT_PAGES_PER_SECTION) {
    this.nPfns = nPfns;
    this.zones = zones;
    const present = sections ?? Array.from({ length: Math.ceil(nPfns / pagesPerSection) }, (_, s) => s);
    this.state = pfnBytes(present, pagesPerSection);
    this.freeOrder = pfnInt8(present, pagesPerSection, -1);
    this.freeMt = pfnBytes(present, pagesPerSection);
    this.pageblockMt = pfnBytes(present, pagesPerSection >> PAGEBLOCK_ORDER, MIGRATE.MOVABLE);
    const n = zones.length * MAX_ORDER * NR_MIGRATETYPES;
    this.listHead = new Float64Array(n).fill(NONE); // pfns pass 2^31 with --high-mem
    this.listTail = new Float64Array(n).fill(NONE);
    this.listLen = new Float64Array(n);
    this.managed = zones.map(() => 0);
    this.freePages = zones.map(() => 0);
  }

  /** Zone index of a pfn. */
  zoneOf(pfn: number): number {
    for (let z = 0; z < this.zones.length; z++) {
      const zs = this.zones[z]!;
      if (pfn >= zs.startPfn && pfn < zs.endPfn) return z;
    }
    return -1;
  }

  /** Mark [start, end) as RAM that exists; it stays reserved until freed. */
  markPresent(start: number, end: number): void {
    this.state.fill(PAGE_STATE.RESERVED, start, end);
  }

  /**
   * Free a boot range into the allocator like memblock_free_all → __free_pages_memory: the
   * largest naturally aligned chunks (at most order 10), added to the tail of their lists.
   */
  freeBootRange(start: number, end: number): void {
    while (start < end) {
      let order = Math.min(MAX_ORDER - 1, ctz(start));
      while (start + (1 << order) > end) order--;
      // a chunk must not straddle a zone boundary
      const z = this.zoneOf(start);
      while (start + (1 << order) > this.zones[z]!.endPfn) order--;
      for (let p = start; p < start + (1 << order); p++) {
        if (this.state.get(p) !== PAGE_STATE.RESERVED) throw internal(`boot free of pfn ${p} in state ${this.state.get(p)}`);
      }
      this.state.fill(PAGE_STATE.ALLOCATED, start, start + (1 << order));
      this.managed[z]! += 1 << order;
      this.free(start, order, true);
      start += 1 << order;
    }
  }

  private idx(z: number, order: number, mt: number): number {
    return (z * MAX_ORDER + order) * NR_MIGRATETYPES + mt;
  }

  private listAdd(z: number, order: number, mt: number, pfn: number, toTail: boolean): void {
    const i = this.idx(z, order, mt);
    const h = this.listHead[i]!;
    if (h === NONE) {
      this.listHead[i] = pfn;
      this.listTail[i] = pfn;
      this.next.set(pfn, NONE);
      this.prev.set(pfn, NONE);
    } else if (toTail) {
      const t = this.listTail[i]!;
      this.next.set(t, pfn);
      this.prev.set(pfn, t);
      this.next.set(pfn, NONE);
      this.listTail[i] = pfn;
    } else {
      this.prev.set(h, pfn);
      this.next.set(pfn, h);
      this.prev.set(pfn, NONE);
      this.listHead[i] = pfn;
    }
    this.listLen[i]!++;
    this.freeOrder.set(pfn, order);
    this.freeMt.set(pfn, mt);
  }

  private listDel(z: number, pfn: number): void {
    const order = this.freeOrder.get(pfn);
    const mt = this.freeMt.get(pfn);
    const i = this.idx(z, order, mt);
    const n = this.next.get(pfn)!;
    const p = this.prev.get(pfn)!;
    if (p === NONE) this.listHead[i] = n;
    else this.next.set(p, n);
    if (n === NONE) this.listTail[i] = p;
    else this.prev.set(n, p);
    this.next.delete(pfn);
    this.prev.delete(pfn);
    this.listLen[i]!--;
    this.freeOrder.set(pfn, -1);
  }

  /**
   * Free 2^order pages at pfn (all must be allocated). Coalesces with the buddy while the buddy
   * is a free head of the same order in the same zone.
   */
  free(pfn: number, order: number, toTail = false): void {
    const n = 1 << order;
    if (pfn % n !== 0) throw internal(`free of pfn ${pfn} not aligned to order ${order}`);
    for (let p = pfn; p < pfn + n; p++) {
      if (this.state.get(p) !== PAGE_STATE.ALLOCATED) throw internal(`double free: pfn ${p} is in state ${this.state.get(p)}`);
    }
    const z = this.zoneOf(pfn);
    this.state.fill(PAGE_STATE.FREE, pfn, pfn + n);
    this.freePages[z]! += n;
    const mt = this.pageblockMt.get(pageblockOf(pfn));
    while (order < MAX_ORDER - 1) {
      const buddy = buddyOf(pfn, order);
      if (buddy >= this.nPfns || this.freeOrder.get(buddy) !== order || this.zoneOf(buddy) !== z) break;
      this.listDel(z, buddy);
      pfn = Math.min(pfn, buddy);
      order++;
    }
    this.listAdd(z, order, mt, pfn, toTail);
  }

  /** Split a free block of `high` order at pfn down to `low`, putting the upper halves back (expand()). */
  private expand(z: number, pfn: number, low: number, high: number, mt: number): void {
    while (high > low) {
      high--;
      this.listAdd(z, high, mt, pfn + (1 << high), false);
    }
  }

  private takeFrom(z: number, order: number, mt: number): number {
    for (let o = order; o < MAX_ORDER; o++) {
      const h = this.listHead[this.idx(z, o, mt)]!;
      if (h === NONE) continue;
      this.listDel(z, h);
      this.expand(z, h, order, o, mt);
      return h;
    }
    return NONE;
  }

  /**
   * Allocate 2^order pages of migratetype `mt`, trying zones from `highestZone` down to 0 (the
   * zonelist order). Falls back to other migratetypes (largest block first), stealing the
   * pageblock when the block is large. Returns the pfn, or -1 when nothing fits.
   */
  alloc(order: number, mt: number, highestZone = this.zones.length - 1): number {
    for (let z = Math.min(highestZone, this.zones.length - 1); z >= 0; z--) {
      if (this.freePages[z]! < 1 << order) continue;
      let pfn = this.takeFrom(z, order, mt);
      if (pfn === NONE) pfn = this.fallback(z, order, mt);
      if (pfn === NONE) continue;
      const n = 1 << order;
      this.state.fill(PAGE_STATE.ALLOCATED, pfn, pfn + n);
      this.freePages[z]! -= n;
      return pfn;
    }
    return NONE;
  }

  private fallback(z: number, order: number, mt: number): number {
    for (let o = MAX_ORDER - 1; o >= order; o--) {
      for (const fmt of FALLBACKS[mt]!) {
        const h = this.listHead[this.idx(z, o, fmt)]!;
        if (h === NONE) continue;
        this.listDel(z, h);
        // steal_suitable_fallback: a large block takes its pageblock(s) over
        if (o >= PAGEBLOCK_ORDER >> 1) {
          const first = pageblockOf(h);
          const last = pageblockOf(h + (1 << o) - 1);
          for (let b = first; b <= last; b++) this.pageblockMt.set(b, mt);
        }
        this.expand(z, h, order, o, mt);
        return h;
      }
    }
    return NONE;
  }

  /** Pfns on one free list, in list order. */
  *list(z: number, order: number, mt: number): Generator<number> {
    let p = this.listHead[this.idx(z, order, mt)]!;
    while (p !== NONE) {
      yield p;
      p = this.next.get(p)!;
    }
  }

  /** Free blocks of order ≥ `minOrder` as [pfn, order]: zone by zone, order by order, list by list, in list order. */
  *freeBlocks(minOrder = 0): Generator<[pfn: number, order: number]> {
    for (let z = 0; z < this.zones.length; z++) {
      for (let o = minOrder; o < MAX_ORDER; o++) {
        for (let mt = 0; mt < NR_MIGRATETYPES; mt++) for (const pfn of this.list(z, o, mt)) yield [pfn, o];
      }
    }
  }

  /** List neighbours of a free head (-1 = the list head itself). */
  neighbours(pfn: number): { next: number; prev: number } {
    return { next: this.next.get(pfn) ?? NONE, prev: this.prev.get(pfn) ?? NONE };
  }

  /** Number of free blocks on one list. */
  listLength(z: number, order: number, mt: number): number {
    return this.listLen[this.idx(z, order, mt)]!;
  }

  /** Free blocks of an order in a zone (free_area[order].nr_free). */
  nrFree(z: number, order: number): number {
    let n = 0;
    for (let mt = 0; mt < NR_MIGRATETYPES; mt++) n += this.listLen[this.idx(z, order, mt)]!;
    return n;
  }

  /** Count of pfns in each PAGE_STATE. */
  stateCounts(): number[] {
    const c = [0, 0, 0, 0];
    let seen = 0;
    for (const [a, b] of this.state.ranges()) {
      for (let i = a; i < Math.min(b, this.nPfns); i++) c[this.state.get(i)]!++;
      seen += Math.max(0, Math.min(b, this.nPfns) - a);
    }
    c[PAGE_STATE.ABSENT]! += this.nPfns - seen; // pfns of absent sections
    return c;
  }

  /**
   * Check every invariant; throws E_INTERNAL naming the first violation. O(pfns); for tests.
   *  - free-list membership equals the per-pfn FREE state (each free pfn in exactly one block);
   *  - no two free buddies of the same order in the same zone are left unmerged;
   *  - list links are consistent and list lengths match;
   *  - per-zone free counts match; free + allocated = managed.
   */
  checkInvariants(): void {
    const covered = pfnBytes(this.state.sections, this.state.perSection);
    const zoneFree = this.zones.map(() => 0);
    for (let z = 0; z < this.zones.length; z++) {
      for (let o = 0; o < MAX_ORDER; o++) {
        for (let mt = 0; mt < NR_MIGRATETYPES; mt++) {
          let count = 0;
          let prev = NONE;
          for (const p of this.list(z, o, mt)) {
            if (this.prev.get(p) !== prev) throw internal(`free list z${z} o${o} mt${mt}: broken prev link at pfn ${p}`);
            if (this.freeOrder.get(p) !== o || this.freeMt.get(p) !== mt) throw internal(`pfn ${p} on list o${o} mt${mt} but records o${this.freeOrder.get(p)}`);
            if (this.zoneOf(p) !== z || this.zoneOf(p + (1 << o) - 1) !== z) throw internal(`free block ${p}/${o} outside zone ${z}`);
            if (p % (1 << o) !== 0) throw internal(`free block ${p} misaligned for order ${o}`);
            for (let q = p; q < p + (1 << o); q++) {
              if (covered.get(q)) throw internal(`pfn ${q} in two free blocks`);
              if (this.state.get(q) !== PAGE_STATE.FREE) throw internal(`pfn ${q} on a free list but in state ${this.state.get(q)}`);
              covered.set(q, 1);
            }
            const buddy = buddyOf(p, o);
            if (o < MAX_ORDER - 1 && buddy < this.nPfns && this.freeOrder.get(buddy) === o && this.zoneOf(buddy) === z) {
              throw internal(`free buddies ${p} and ${buddy} of order ${o} left unmerged`);
            }
            zoneFree[z]! += 1 << o;
            count++;
            prev = p;
          }
          if (this.listTail[this.idx(z, o, mt)] !== prev) throw internal(`list tail mismatch z${z} o${o} mt${mt}`);
          if (count !== this.listLength(z, o, mt)) throw internal(`list length mismatch z${z} o${o} mt${mt}`);
        }
      }
      if (zoneFree[z] !== this.freePages[z]) throw internal(`zone ${z} free count ${this.freePages[z]} != ${zoneFree[z]}`);
    }
    let allocated = 0;
    for (const i of this.state.indexes()) {
      if (i >= this.nPfns) break;
      if (this.state.get(i) === PAGE_STATE.FREE && !covered.get(i)) throw internal(`pfn ${i} is FREE but on no free list`);
      if (this.freeOrder.get(i) >= 0 && !covered.get(i)) throw internal(`pfn ${i} records a free order but is on no list`);
      if (this.state.get(i) === PAGE_STATE.ALLOCATED) allocated++;
    }
    const managed = this.managed.reduce((a, b) => a + b, 0);
    const free = zoneFree.reduce((a, b) => a + b, 0);
    if (free + allocated !== managed) throw internal(`free ${free} + allocated ${allocated} != managed ${managed}`);
  }
}

function ctz(n: number): number {
  if (n === 0) return 64;
  let c = 0;
  while (n % 2 === 0) {
    n /= 2;
    c++;
  }
  return c;
}

function internal(msg: string): VmcoreError {
  return new VmcoreError('E_INTERNAL', `buddy allocator: ${msg}`);
}
