/**
 * Encoding of struct pages (layout, flag bits, page types and compound-page encoding from the
 * kernel profile) from the machine's per-pfn state, one backing page (64 struct pages) at a time. 64-bit fields are
 * written as two u32 halves from numbers, to keep the hot loop free of BigInt.
 */
import type { KernelProfile } from '../mm/profiles.js';
import type { StructPageLayout } from '../mm/layout.js';
import { MAX_ORDER, NR_MIGRATETYPES } from './buddy.js';
import { AUX, KIND, freeListHeadVA, zoneIndex, type Kind, type Machine, type ObjectPools } from './machine.js';
import { hash32 } from './rng.js';
import { hintingOf, pageTypeValue } from './generation.js';

const TWO32 = 4294967296;

/** A 64-bit value as two 32-bit halves. */
interface U64 {
  hi: number;
  lo: number;
}
function split(v: bigint): U64 {
  return { hi: Number((v >> 32n) & 0xffffffffn), lo: Number(v & 0xffffffffn) };
}

/** Page flag values (1 << PG_x) of the generation, exported or not. */
function flagBitsOf(p: KernelProfile) {
  const f = p.flags;
  const o = p.otherFlags;
  return {
    lru: 2 ** f.lru,
    private: 2 ** f.private,
    swapcache: 2 ** f.swapcache,
    swapbacked: 2 ** (f.swapbacked ?? o.swapbacked ?? 19),
    slab: f.slab === undefined ? 0 : 2 ** f.slab,
    hwpoison: 2 ** (f.hwpoison ?? 23),
    head: Number(f.headMask),
    reserved: 2 ** o.reserved,
    uptodate: 2 ** o.uptodate,
    referenced: 2 ** o.referenced,
    dirty: 2 ** o.dirty,
    active: 2 ** o.active,
  };
}

/**
 * What a generation writes where, decided once: the _mapcount of each page type, how reported
 * free blocks are marked, and how page[1] of a compound page says its order and hugetlb-ness.
 */
interface PageEncoding {
  /** Reported blocks carry PG_reported (top-byte scheme) rather than BUDDY & OFFLINE. */
  pgReported: boolean;
  buddy: number;
  hinted: number;
  offline: number;
  /** Page-type values for slab / hugetlb heads, or null where the generation uses flags or dtors. */
  slab: number | null;
  hugetlb: number | null;
  unaccepted: number;
  /** page[1].flags bit of PG_hugetlb (6.6–6.8), else 0. */
  pgHugetlb: number;
  /** 6.6+: folio->_flags_1 low byte is the order. */
  orderInFlags: boolean;
  dtorInPage1: boolean;
}

function pageEncodingOf(m: Machine): PageEncoding {
  const prof = m.profile;
  const buddy = pageTypeValue(prof, 'buddy') ?? -129;
  const offline = pageTypeValue(prof, 'offline') ?? -257;
  return {
    pgReported: hintingOf(prof, m.opts) === 'pg-reported',
    buddy,
    offline,
    hinted: buddy & offline,
    slab: prof.flags.slab === undefined ? (pageTypeValue(prof, 'slab') ?? null) : null,
    hugetlb: prof.compound.hugetlb === 'page-type' ? (pageTypeValue(prof, 'hugetlb') ?? null) : null,
    unaccepted: pageTypeValue(prof, 'unaccepted') ?? -1,
    pgHugetlb: prof.compound.hugetlb === 'flag' && prof.pgHugetlb !== undefined ? 2 ** prof.pgHugetlb : 0,
    orderInFlags: prof.compound.order === 'flags',
    dtorInPage1: prof.compound.hugetlb === 'dtor' || prof.compound.order !== 'flags',
  };
}

/** The kernel objects struct pages point to (mapping, private), as halves. */
function poolsOf(p: ObjectPools) {
  return {
    kmem: p.kmemCache.map(split),
    anon: p.anonVma.map(split),
    as: p.addressSpace.map(split),
    bh: p.bufferHead.map(split),
    balloon: split(p.balloon),
  };
}

/** The words every struct page ends with, written after its other fields: flags, _mapcount (page_type), _refcount. */
interface PageWords {
  flags: number;
  mapcount: number;
  refcount: number;
}

/** Precomputed values for encoding one machine's struct pages. */
export class StructPageEncoder {
  private readonly l: StructPageLayout;
  private readonly vm: U64;
  private readonly bits: ReturnType<typeof flagBitsOf>;
  private readonly pools: ReturnType<typeof poolsOf>;
  /** zone->free_area[order].free_list[mt] addresses, by (zone * 11 + order) * NR_MIGRATETYPES + mt. */
  private readonly listHeads: U64[] = [];
  private readonly e: PageEncoding;
  private readonly w: PageWords = { flags: 0, mapcount: -1, refcount: 1 };
  constructor(private readonly m: Machine) {
    this.l = m.profile.layout;
    this.vm = split(m.layout.vmemmap);
    this.bits = flagBitsOf(m.profile);
    this.pools = poolsOf(m.pools);
    for (let z = 0; z < m.buddy.zones.length; z++)
      for (let o2 = 0; o2 < 11; o2++) for (let mt = 0; mt < NR_MIGRATETYPES; mt++) this.listHeads.push(split(freeListHeadVA(m, z, o2, mt)));
    this.e = pageEncodingOf(m);
  }

  private put(v: DataView, off: number, hi: number, lo: number): void {
    v.setUint32(off, lo >>> 0, true);
    v.setUint32(off + 4, hi >>> 0, true);
  }
  /** Write the VA of pfn's struct page + add (bit 0 may be set via add). */
  private putPageVA(v: DataView, off: number, pfn: number, add: number): void {
    const lo = this.vm.lo + pfn * this.l.size + add;
    this.put(v, off, this.vm.hi + Math.floor(lo / TWO32), lo % TWO32);
  }
  private putPtr(v: DataView, off: number, p: U64, or = 0): void {
    this.put(v, off, p.hi, (p.lo | or) >>> 0);
  }
  /** page->lru linked to the lru of pages `next` and `prev`. */
  private putLru(v: DataView, o: number, next: number, prev: number): void {
    this.putPageVA(v, o + this.l.lru, next, this.l.lru);
    this.putPageVA(v, o + this.l.lru + 8, prev, this.l.lru);
  }
  /** The seeded per-page choice of pool entry and of a few flags. */
  private hashOf(pfn: number): number {
    return hash32(this.m.opts.seed ^ 0x51ab, pfn);
  }

  /** Encode struct pages of pfns [firstPfn, firstPfn + count) into `buf` at `off`. */
  encode(firstPfn: number, count: number, buf: Buffer, off: number): void {
    const l = this.l;
    const w = this.w;
    const v = new DataView(buf.buffer, buf.byteOffset + off, count * l.size);
    new Uint8Array(buf.buffer, buf.byteOffset + off, count * l.size).fill(0);
    for (let i = 0; i < count; i++) {
      const pfn = firstPfn + i;
      const o = i * l.size;
      w.flags = 0;
      w.mapcount = -1;
      w.refcount = 1;
      this.encodeKind(v, o, pfn, w);
      v.setUint32(o + l.flags, w.flags >>> 0, true);
      v.setUint32(o + l.flags + 4, zoneIndex(this.m, pfn) << 20, true); // zone at bits 52–53, node 0 at 54–63
      v.setInt32(o + l.mapcount, w.mapcount, true);
      v.setUint32(o + l.refcount, w.refcount, true);
    }
  }

  /** The fields that follow from what the page is in the machine (free, cache, anon, compound…). */
  private encodeKind(v: DataView, o: number, pfn: number, w: PageWords): void {
    const k = this.m.kind.get(pfn) as Kind;
    const a = this.m.aux.get(pfn);
    const b = this.bits;
    switch (k) {
      case KIND.NOMEM:
      case KIND.RESERVED:
        w.flags = b.reserved;
        this.putLru(v, o, pfn, pfn); // __init_single_page: INIT_LIST_HEAD(&page->lru)
        return;
      case KIND.FREE:
        return this.encodeFree(v, o, pfn, a, w);
      case KIND.KERNEL:
      case KIND.KERNEL_ZERO:
        if (a & AUX.VAR1) w.flags |= b.referenced;
        return;
      case KIND.HWPOISON:
        w.flags = b.hwpoison;
        return;
      case KIND.CACHE:
      case KIND.CACHE_PRIVATE:
        return this.encodeFile(v, o, pfn, k, a, w);
      case KIND.ANON:
      case KIND.SWAPCACHE:
        return this.encodeAnon(v, o, pfn, k, a, w);
      case KIND.BALLOON:
        w.mapcount = this.e.offline;
        this.putPtr(v, o + this.l.mapping, this.pools.balloon, 2); // PAGE_MAPPING_MOVABLE
        return;
      case KIND.VIRTIO_MEM:
        w.mapcount = this.e.offline;
        return;
      case KIND.UNACCEPTED:
        // __free_unaccepted(): only the first page of the MAX_ORDER block is typed
        w.refcount = 0;
        if (pfn % (1 << (MAX_ORDER - 1)) === 0) w.mapcount = this.e.unaccepted;
        return;
      case KIND.SLAB:
      case KIND.THP:
      case KIND.HUGETLB:
      case KIND.HUGETLB_FREE:
        return this.encodeCompound(v, o, pfn, k, a, w);
    }
  }

  /** A free page: a buddy head (page type, order in private, on its free list) or a tail with nothing. */
  private encodeFree(v: DataView, o: number, pfn: number, a: number, w: PageWords): void {
    const l = this.l;
    const m = this.m;
    w.refcount = 0;
    const order = m.buddy.freeOrder.get(pfn);
    if (order < 0) return;
    const hinted = (a & AUX.HINTED) !== 0;
    w.mapcount = hinted && !this.e.pgReported ? this.e.hinted : this.e.buddy;
    if (hinted && this.e.pgReported) w.flags |= this.bits.uptodate; // PG_reported aliases PG_uptodate
    this.put(v, o + l.private, 0, order);
    const head = this.listHeads[(zoneIndex(m, pfn) * 11 + order) * NR_MIGRATETYPES + m.buddy.freeMt.get(pfn)]!;
    const nb = m.buddy.neighbours(pfn);
    if (nb.next >= 0) this.putPageVA(v, o + l.lru, nb.next, l.lru);
    else this.putPtr(v, o + l.lru, head);
    if (nb.prev >= 0) this.putPageVA(v, o + l.lru + 8, nb.prev, l.lru);
    else this.putPtr(v, o + l.lru + 8, head);
  }

  /** A page-cache page on the LRU; with buffer heads in private (CACHE_PRIVATE). */
  private encodeFile(v: DataView, o: number, pfn: number, k: Kind, a: number, w: PageWords): void {
    const l = this.l;
    const b = this.bits;
    const h = this.hashOf(pfn);
    w.flags = b.lru | b.uptodate | (a & AUX.VAR1 ? b.dirty : 0) | (a & AUX.VAR2 ? b.active : 0) | (h & 1 ? b.referenced : 0);
    this.putPtr(v, o + l.mapping, this.pools.as[h % this.pools.as.length]!);
    this.putLru(v, o, pfn + 1, Math.max(0, pfn - 1));
    if (k === KIND.CACHE_PRIVATE) {
      w.flags |= b.private;
      this.putPtr(v, o + l.private, this.pools.bh[(h >>> 8) % this.pools.bh.length]!);
      w.refcount = 2;
    }
    w.mapcount = a & AUX.VAR2 ? (h >>> 16) % 3 : -1; // some file pages are mapped
  }

  /** An anonymous page on the LRU; in the swap cache with its swap entry in private (SWAPCACHE). */
  private encodeAnon(v: DataView, o: number, pfn: number, k: Kind, a: number, w: PageWords): void {
    const l = this.l;
    const b = this.bits;
    const h = this.hashOf(pfn);
    w.flags = b.lru | b.swapbacked | b.uptodate | (a & AUX.VAR1 ? b.active : 0) | (a & AUX.VAR2 ? b.dirty : 0);
    this.putPtr(v, o + l.mapping, this.pools.anon[h % this.pools.anon.length]!, 1); // PAGE_MAPPING_ANON
    this.putLru(v, o, pfn + 1, Math.max(0, pfn - 1));
    w.mapcount = 0;
    if (k === KIND.SWAPCACHE) {
      w.flags |= b.swapcache;
      this.put(v, o + l.private, 0, (h & 0xffffff) << 5); // swp_entry_t
      w.refcount = 2;
    }
  }

  /** A page of a slab, THP or hugetlb block (order in aux; order 0 is a head alone). */
  private encodeCompound(v: DataView, o: number, pfn: number, k: Kind, a: number, w: PageWords): void {
    const order = a & AUX.ORDER;
    const headPfn = pfn - (pfn % (1 << order));
    if (pfn === headPfn) return this.encodeCompoundHead(v, o, pfn, k, order, w);
    w.refcount = 0;
    this.putPageVA(v, o + this.l.compoundHead, headPfn, 1); // compound_head = head | 1
    if (pfn === headPfn + 1) w.flags |= this.encodeFirstTail(v, o, k, order);
  }

  private encodeCompoundHead(v: DataView, o: number, pfn: number, k: Kind, order: number, w: PageWords): void {
    const l = this.l;
    const b = this.bits;
    const h = this.hashOf(pfn);
    if (order > 0) w.flags |= b.head;
    if (k === KIND.SLAB) {
      w.flags |= b.slab;
      if (this.e.slab !== null) w.mapcount = this.e.slab; // 6.10+: PageSlab is a page type
      this.putPtr(v, o + l.mapping, this.pools.kmem[h % this.pools.kmem.length]!); // slab_cache
    } else if (k === KIND.THP) {
      w.flags |= b.lru | b.swapbacked | b.uptodate;
      this.putPtr(v, o + l.mapping, this.pools.anon[h % this.pools.anon.length]!, 1);
      this.putLru(v, o, pfn + 512, Math.max(0, pfn - 512));
      w.mapcount = 0;
    } else if (k === KIND.HUGETLB) {
      w.flags |= b.uptodate;
      this.putPtr(v, o + l.mapping, this.pools.as[h % this.pools.as.length]!);
      w.mapcount = this.e.hugetlb ?? 0;
    } else {
      w.refcount = 0; // free hugetlb pool page
      if (this.e.hugetlb !== null) w.mapcount = this.e.hugetlb;
    }
  }

  /** page[1]: the destructor and order bytes, or (6.6+) its flags word's order and PG_hugetlb; returns those flags. */
  private encodeFirstTail(v: DataView, o: number, k: Kind, order: number): number {
    const l = this.l;
    const e = this.e;
    const d = this.m.profile.compoundDtor;
    const dtor = k === KIND.SLAB ? d.compound : k === KIND.THP ? d.transhuge : d.hugetlb;
    if (e.dtorInPage1 && l.compoundDtor !== undefined) v.setUint8(o + l.compoundDtor, dtor);
    if (!e.orderInFlags && l.compoundOrder !== undefined) v.setUint8(o + l.compoundOrder, order);
    // 6.6+: folio->_flags_1 low byte is the order; PG_hugetlb lives there until 6.9
    let flags = e.orderInFlags ? order : 0;
    if (k === KIND.HUGETLB || k === KIND.HUGETLB_FREE) flags |= e.pgHugetlb;
    return flags;
  }
}
