/**
 * Encoding of struct pages (layout, flag bits, page types and compound-page encoding from the
 * kernel profile) from the machine's per-pfn state, one backing page (64 struct pages) at a time. 64-bit fields are
 * written as two u32 halves from numbers, to keep the hot loop free of BigInt.
 */
import { MAX_ORDER, NR_MIGRATETYPES } from './buddy.js';
import { AUX, KIND, freeListHeadVA, zoneIndex, type Machine } from './machine.js';
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

/** Precomputed values for encoding one machine's struct pages. */
export class StructPageEncoder {
  private readonly l;
  private readonly vm: U64;
  private readonly bits;
  private readonly pools: { kmem: U64[]; anon: U64[]; as: U64[]; bh: U64[]; balloon: U64 };
  private readonly listHeads: U64[];
  private readonly pgReported: boolean;
  private readonly buddyValue: number;
  private readonly hintedValue: number;
  private readonly offlineValue: number;
  /** Page-type values for slab / hugetlb heads, or null where the generation uses flags or dtors. */
  private readonly slabType: number | null;
  private readonly hugetlbType: number | null;
  private readonly unacceptedValue: number;
  /** page[1].flags bit of PG_hugetlb (6.6–6.8), else 0. */
  private readonly pgHugetlb: number;
  private readonly orderInFlags: boolean;
  private readonly dtorInPage1: boolean;
  constructor(private readonly m: Machine) {
    this.l = m.profile.layout;
    this.vm = split(m.layout.vmemmap);
    const f = m.profile.flags;
    const o = m.profile.otherFlags;
    this.bits = {
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
    const p = m.pools;
    this.pools = {
      kmem: p.kmemCache.map(split),
      anon: p.anonVma.map(split),
      as: p.addressSpace.map(split),
      bh: p.bufferHead.map(split),
      balloon: split(p.balloon),
    };
    this.listHeads = [];
    for (let z = 0; z < m.buddy.zones.length; z++)
      for (let o2 = 0; o2 < 11; o2++) for (let mt = 0; mt < NR_MIGRATETYPES; mt++) this.listHeads.push(split(freeListHeadVA(m, z, o2, mt)));
    const prof = m.profile;
    this.pgReported = hintingOf(prof, m.opts) === 'pg-reported';
    this.buddyValue = pageTypeValue(prof, 'buddy') ?? -129;
    this.offlineValue = pageTypeValue(prof, 'offline') ?? -257;
    this.hintedValue = this.buddyValue & this.offlineValue;
    this.slabType = f.slab === undefined ? (pageTypeValue(prof, 'slab') ?? null) : null;
    this.hugetlbType = prof.compound.hugetlb === 'page-type' ? (pageTypeValue(prof, 'hugetlb') ?? null) : null;
    this.unacceptedValue = pageTypeValue(prof, 'unaccepted') ?? -1;
    this.pgHugetlb = prof.compound.hugetlb === 'flag' && prof.pgHugetlb !== undefined ? 2 ** prof.pgHugetlb : 0;
    this.orderInFlags = prof.compound.order === 'flags';
    this.dtorInPage1 = prof.compound.hugetlb === 'dtor' || prof.compound.order !== 'flags';
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

  /** Encode struct pages of pfns [firstPfn, firstPfn + count) into `buf` at `off`. */
  encode(firstPfn: number, count: number, buf: Buffer, off: number): void {
    const m = this.m;
    const l = this.l;
    const b = this.bits;
    const v = new DataView(buf.buffer, buf.byteOffset + off, count * l.size);
    new Uint8Array(buf.buffer, buf.byteOffset + off, count * l.size).fill(0);
    const seed = m.opts.seed;
    for (let i = 0; i < count; i++) {
      const pfn = firstPfn + i;
      const o = i * l.size;
      const k = m.kind.get(pfn);
      const a = m.aux.get(pfn);
      let flags = 0;
      const zoneHi = zoneIndex(m, pfn) << 20; // zone at bits 52–53, node 0 at 54–63
      let mapcount = -1;
      let refcount = 1;
      const h = hash32(seed ^ 0x51ab, pfn);
      switch (k) {
        case KIND.NOMEM:
        case KIND.RESERVED:
          flags = b.reserved;
          // __init_single_page: INIT_LIST_HEAD(&page->lru)
          this.putPageVA(v, o + l.lru, pfn, l.lru);
          this.putPageVA(v, o + l.lru + 8, pfn, l.lru);
          break;
        case KIND.FREE: {
          refcount = 0;
          const order = m.buddy.freeOrder.get(pfn);
          if (order >= 0) {
            const hinted = (a & AUX.HINTED) !== 0;
            mapcount = hinted && !this.pgReported ? this.hintedValue : this.buddyValue;
            if (hinted && this.pgReported) flags |= b.uptodate; // PG_reported aliases PG_uptodate
            this.put(v, o + l.private, 0, order);
            const z = zoneIndex(m, pfn);
            const mt = m.buddy.freeMt.get(pfn);
            const head = this.listHeads[(z * 11 + order) * NR_MIGRATETYPES + mt]!;
            const nb = m.buddy.neighbours(pfn);
            if (nb.next >= 0) this.putPageVA(v, o + l.lru, nb.next, l.lru);
            else this.putPtr(v, o + l.lru, head);
            if (nb.prev >= 0) this.putPageVA(v, o + l.lru + 8, nb.prev, l.lru);
            else this.putPtr(v, o + l.lru + 8, head);
          }
          break;
        }
        case KIND.KERNEL:
        case KIND.KERNEL_ZERO:
          if (a & AUX.VAR1) flags |= b.referenced;
          break;
        case KIND.HWPOISON:
          flags = b.hwpoison;
          break;
        case KIND.CACHE:
        case KIND.CACHE_PRIVATE:
          flags = b.lru | b.uptodate | (a & AUX.VAR1 ? b.dirty : 0) | (a & AUX.VAR2 ? b.active : 0) | (h & 1 ? b.referenced : 0);
          this.putPtr(v, o + l.mapping, this.pools.as[h % this.pools.as.length]!);
          this.putPageVA(v, o + l.lru, pfn + 1, l.lru);
          this.putPageVA(v, o + l.lru + 8, Math.max(0, pfn - 1), l.lru);
          if (k === KIND.CACHE_PRIVATE) {
            flags |= b.private;
            this.putPtr(v, o + l.private, this.pools.bh[(h >>> 8) % this.pools.bh.length]!);
            refcount = 2;
          }
          mapcount = a & AUX.VAR2 ? (h >>> 16) % 3 : -1; // some file pages are mapped
          break;
        case KIND.ANON:
        case KIND.SWAPCACHE:
          flags = b.lru | b.swapbacked | b.uptodate | (a & AUX.VAR1 ? b.active : 0) | (a & AUX.VAR2 ? b.dirty : 0);
          this.putPtr(v, o + l.mapping, this.pools.anon[h % this.pools.anon.length]!, 1); // PAGE_MAPPING_ANON
          this.putPageVA(v, o + l.lru, pfn + 1, l.lru);
          this.putPageVA(v, o + l.lru + 8, Math.max(0, pfn - 1), l.lru);
          mapcount = 0;
          if (k === KIND.SWAPCACHE) {
            flags |= b.swapcache;
            this.put(v, o + l.private, 0, (h & 0xffffff) << 5); // swp_entry_t
            refcount = 2;
          }
          break;
        case KIND.BALLOON:
          mapcount = this.offlineValue;
          this.putPtr(v, o + l.mapping, this.pools.balloon, 2); // PAGE_MAPPING_MOVABLE
          break;
        case KIND.VIRTIO_MEM:
          mapcount = this.offlineValue;
          break;
        case KIND.UNACCEPTED:
          // __free_unaccepted(): only the first page of the MAX_ORDER block is typed
          refcount = 0;
          if (pfn % (1 << (MAX_ORDER - 1)) === 0) mapcount = this.unacceptedValue;
          break;
        case KIND.SLAB:
        case KIND.THP:
        case KIND.HUGETLB:
        case KIND.HUGETLB_FREE: {
          const order = a & AUX.ORDER;
          const headPfn = pfn - (pfn % (1 << order));
          if (pfn === headPfn) {
            if (order > 0) flags |= b.head;
            if (k === KIND.SLAB) {
              flags |= b.slab;
              if (this.slabType !== null) mapcount = this.slabType; // 6.10+: PageSlab is a page type
              this.putPtr(v, o + l.mapping, this.pools.kmem[h % this.pools.kmem.length]!); // slab_cache
            } else if (k === KIND.THP) {
              flags |= b.lru | b.swapbacked | b.uptodate;
              this.putPtr(v, o + l.mapping, this.pools.anon[h % this.pools.anon.length]!, 1);
              this.putPageVA(v, o + l.lru, pfn + 512, l.lru);
              this.putPageVA(v, o + l.lru + 8, Math.max(0, pfn - 512), l.lru);
              mapcount = 0;
            } else if (k === KIND.HUGETLB) {
              flags |= b.uptodate;
              this.putPtr(v, o + l.mapping, this.pools.as[h % this.pools.as.length]!);
              mapcount = this.hugetlbType ?? 0;
            } else {
              refcount = 0; // free hugetlb pool page
              if (this.hugetlbType !== null) mapcount = this.hugetlbType;
            }
          } else {
            refcount = 0;
            this.putPageVA(v, o + l.compoundHead, headPfn, 1); // compound_head = head | 1
            if (pfn === headPfn + 1) {
              const hugetlb = k === KIND.HUGETLB || k === KIND.HUGETLB_FREE;
              const dtor = k === KIND.SLAB ? m.profile.compoundDtor.compound : k === KIND.THP ? m.profile.compoundDtor.transhuge : m.profile.compoundDtor.hugetlb;
              if (this.dtorInPage1 && l.compoundDtor !== undefined) v.setUint8(o + l.compoundDtor, dtor);
              if (!this.orderInFlags && l.compoundOrder !== undefined) v.setUint8(o + l.compoundOrder, order);
              // 6.6+: folio->_flags_1 low byte is the order; PG_hugetlb lives there until 6.9
              if (this.orderInFlags) flags |= order;
              if (hugetlb) flags |= this.pgHugetlb;
            }
          }
          break;
        }
      }
      v.setUint32(o + l.flags, flags >>> 0, true);
      v.setUint32(o + l.flags + 4, zoneHi, true);
      v.setInt32(o + l.mapcount, mapcount, true);
      v.setUint32(o + l.refcount, refcount, true);
    }
  }
}

