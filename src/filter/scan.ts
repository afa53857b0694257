/**
 * The struct-page scan of one window, classification passes 1–3 (pass 0 is decide.ts, pass 4
 * the counting in walk.ts):
 *  1. decode ({@link Scanner.decode}): a batch of struct pages (128 KiB, L2-sized) read from
 *     mem_map and seen as int32 words, in place or as a packed copy of the fields read;
 *  2. decide ({@link Scanner.batch} inline for untyped pages, {@link Scanner.slow} for the rest):
 *     each page by page->flags and the page-type word, every per-kernel choice (flag bits, the
 *     page-type scheme's tests from mm/pagetype.ts, the compound decoder) compiled into fields;
 *  3. fix-ups: a buddy block or free-list head ({@link Scanner.freeBlock}) or a compound head
 *     ({@link Scanner.compoundOrder}) decides its whole range, carried into the next batch,
 *     section or window as the pending range.
 * The rules are in classify.ts's header. The loop is the hot path (262 k struct pages per GiB):
 * no per-page closures or allocations, monomorphic typed-array reads.
 */
import { Bitmap } from '../io/bitmap.js';
import type { PfnSet } from '../io/pfn-set.js';
import type { MemMap, UnreadableRange } from '../mm/memmap.js';
import type { PageFlagBits, StructPageLayout } from '../mm/layout.js';
import type { PageTypeDecoder, PageTypeName, PageTypeTest } from '../mm/pagetype.js';
import type { CompoundDecoder } from '../mm/compound.js';
import { PageClass } from './classes.js';
import type { FreeListResult } from './freelist.js';
import type { UnknownReason } from './classify.js';

/** The reasons the struct-page scan finds (registered first: the report keeps this order). */
export const SCAN_REASONS: readonly UnknownReason[] = ['invalid_order', 'orphan_tail', 'struct_page_unmapped', 'struct_page_not_in_dump'];

/**
 * A 64-bit flag test on the two int32 halves of page->flags: `(half ? f1 : f0) & mask`. An
 * unknown bit has mask 0 and never matches.
 */
export interface BitTest {
  half: number;
  mask: number;
}
export function bitTest(bit: number | undefined): BitTest {
  if (bit === undefined || bit < 0 || bit > 63) return { half: 0, mask: 0 };
  return { half: bit >= 32 ? 1 : 0, mask: 1 << (bit & 31) };
}
/**
 * 2^order, as a small integer when it is one: `2 ** n` is a double, and a pfn computed from it
 * is boxed (allocated) at every step of the loop until TurboFan compiles it.
 */
function pow2(order: number): number {
  return order < 30 ? 1 << order : 2 ** order;
}

/** Whether page->flags (as halves f0, f1) has the bit of `t`. */
function has(t: BitTest, f0: number, f1: number): boolean {
  return ((t.half ? f1 : f0) & t.mask) !== 0;
}
/** Whether the int32 page-type word carries the type of `t`. */
function is(t: PageTypeTest, word: number): boolean {
  return (word & t.mask) === t.value;
}

/**
 * The class of a page that is untyped, neither compound head nor tail, and not a free-list
 * head, by its flag bits (the rules of the file's header reduced to that case).
 */
const S_HWPOISON = 1;
const S_SLAB = 2;
const S_ANON = 4;
const S_CACHE = 8;
const S_PRIVATE = 16;
export const SIMPLE_CLASS = (() => {
  const t = new Uint8Array(32);
  for (let k = 0; k < 32; k++) {
    const slab = (k & S_SLAB) !== 0;
    const anon = !slab && (k & S_ANON) !== 0;
    const cache = (k & S_CACHE) !== 0;
    if (k & S_HWPOISON) t[k] = PageClass.hwpoison;
    else if (cache && !anon) t[k] = k & S_PRIVATE ? PageClass.cache_private : PageClass.cache;
    else if (anon) t[k] = PageClass.user;
    else if (slab) t[k] = PageClass.slab;
    else t[k] = PageClass.kernel;
  }
  return t;
})();

/** A page-type test that never matches (`(w & 0) === 1` is false). */
const NEVER: PageTypeTest = { mask: 0, value: 1 };

/**
 * Struct pages are read in batches of at most this many bytes: fs.readSync into a buffer that
 * fits in L2 is several times faster than into a section-sized (2 MiB) one.
 */
const BATCH_BYTES = 128 * 1024;
/** Int32 words per struct page in the packed copy of an unaligned layout (see Scanner.pack). */
const PACKED_STRIDE = 8;
const P_FLAGS = 0;
const P_COMPOUND_HEAD = 2;
const P_MAPPING = 3;
const P_PRIVATE = 4;
const P_MAPCOUNT = 6;

/**
 * The hot loop, with every per-kernel decision compiled into fields. A dump is classified in
 * one cold call, so the loop that decides untyped pages is kept small (TurboFan compiles it
 * early) and every other page (typed, compound, unreadable, free-list mode) goes through
 * {@link Scanner.slow}, which applies all the rules.
 */
export class Scanner {
  pendingEnd = 0;
  pendingClass: number = PageClass.kernel;
  readonly anomalies: Record<string, number> = {};
  /** Present pages of hinted blocks, by rule (see Classification.hintedBy). */
  readonly hintedBy = { combined: 0, reported: 0 };
  /** Unknown pages by reason, indexed like {@link SCAN_REASONS}. */
  readonly reasonCounts = new Float64Array(SCAN_REASONS.length);
  /** The window: its first pfn, its classes (indexed from it) and its readable pfns. */
  private base = 0;
  private out: Uint8Array = new Uint8Array(0);
  private wp: Bitmap = new Bitmap(0);
  private readonly size: number;
  private readonly fo: number;
  private readonly cho: number;
  private readonly mapo: number;
  private readonly privo: number;
  private readonly mco: number;
  /**
   * Whether the fields the loop reads are 4-byte aligned and inside SIZE(page): a batch is
   * then read as int32 words in place, else through a packed copy of those fields.
   */
  private readonly aligned: boolean;
  private readonly batchPfns: number;
  private packed: Int32Array = new Int32Array(0);
  private readonly lru: BitTest;
  private readonly priv: BitTest;
  private readonly swapcache: BitTest;
  private readonly swapbacked: BitTest;
  private readonly noSwapbacked: boolean;
  private readonly slabBit: BitTest;
  private readonly hwpoison: BitTest;
  private readonly reported: BitTest;
  private readonly head: BitTest;
  private readonly buddyT: PageTypeTest;
  private readonly offlineT: PageTypeTest;
  private readonly slabT: PageTypeTest;
  private readonly hugetlbT: PageTypeTest;
  private readonly unacceptedT: PageTypeTest;
  /** The offline test when a buddy head can also be offline (hinted), else never. */
  private readonly hintedT: PageTypeTest;
  private readonly ridInvalidOrder: number;
  private readonly ridOrphan: number;
  private readonly ridUnmapped: number;
  private readonly ridNotInDump: number;
  private readonly extra = new Uint8Array(256);
  /** The current batch: int32 words, word indices of the fields and of a struct page. */
  private words: Int32Array = new Int32Array(0);
  private view: DataView | null = null;
  private bad: UnreadableRange[] = [];
  private bi = 0;
  private stride = 0;
  private wf = 0;
  private wch = 0;
  private wmap = 0;
  private wpriv = 0;
  private wmc = 0;
  /** page[1] of the last compound head seen by {@link compoundOrder}: its view and offset (-1: none). */
  private tailView: DataView | null = null;
  private tailOff = -1;

  constructor(
    layout: StructPageLayout,
    flags: PageFlagBits,
    pt: PageTypeDecoder,
    private readonly compound: CompoundDecoder,
    private readonly memmap: MemMap,
    private readonly readable: PfnSet,
    private readonly maxMapnr: number,
    reportedBit: number | undefined,
    private readonly nrOrders: number,
    private readonly freeLists: FreeListResult | null,
  ) {
    this.size = layout.size;
    this.fo = layout.flags;
    this.cho = layout.compoundHead;
    this.mapo = layout.mapping;
    this.privo = layout.private;
    this.mco = layout.mapcount;
    const inside = (o: number, n: number) => o % 4 === 0 && o + n <= this.size;
    this.aligned =
      this.size % 4 === 0 && inside(this.fo, 8) && inside(this.cho, 4) && inside(this.mapo, 4) && inside(this.privo, 8) && inside(this.mco, 4);
    this.batchPfns = Math.max(1, Math.floor(BATCH_BYTES / this.size));
    this.lru = bitTest(flags.lru);
    this.priv = bitTest(flags.private);
    this.swapcache = bitTest(flags.swapcache);
    this.swapbacked = bitTest(flags.swapbacked);
    this.noSwapbacked = flags.swapbacked === undefined || flags.swapbacked < 0 || flags.swapbacked > 63;
    this.slabBit = bitTest(flags.slab);
    this.hwpoison = bitTest(flags.hwpoison);
    this.reported = bitTest(reportedBit);
    let headBit = -1;
    if (flags.headMask > 0n && (flags.headMask & (flags.headMask - 1n)) === 0n) headBit = flags.headMask.toString(2).length - 1;
    this.head = bitTest(headBit);
    const t = (n: PageTypeName) => pt.test(n) ?? NEVER;
    this.buddyT = t('buddy');
    this.offlineT = t('offline');
    this.slabT = t('slab');
    this.unacceptedT = t('unaccepted');
    this.hintedT = pt.canEncodeHinted ? t('offline') : NEVER;
    this.hugetlbT = compound.hugetlbBy === 'NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)' ? t('hugetlb') : NEVER;
    this.ridInvalidOrder = SCAN_REASONS.indexOf('invalid_order');
    this.ridOrphan = SCAN_REASONS.indexOf('orphan_tail');
    this.ridUnmapped = SCAN_REASONS.indexOf('struct_page_unmapped');
    this.ridNotInDump = SCAN_REASONS.indexOf('struct_page_not_in_dump');
  }

  /** The window the next {@link section} calls classify into (see ClassWalk.window). */
  setWindow(base: number, out: Uint8Array, readable: Bitmap): void {
    this.base = base;
    this.out = out;
    this.wp = readable;
  }

  private anomaly(k: string): void {
    this.anomalies[k] = (this.anomalies[k] ?? 0) + 1;
  }

  /** Class `cls` for the present pfns of [s, e) (inside the window). */
  private fill(s: number, e: number, cls: number): void {
    const out = this.out;
    const wp = this.wp;
    const pb = wp.bytes;
    const ls = s - this.base;
    const le = e - this.base;
    if (le - ls < 64) {
      for (let p = ls; p < le; p++) if ((pb[p >>> 3]! & (1 << (p & 7))) !== 0) out[p] = cls;
      return;
    }
    for (let p = wp.nextSet(ls, le); p >= 0; ) {
      const q = wp.nextClear(p, le);
      out.fill(cls, p, q);
      if (q >= le) break;
      p = wp.nextSet(q, le);
    }
  }

  /** Count pfn `pfn` unknown for `rid` if present. */
  private unknown(pfn: number, rid: number): void {
    const i = pfn - this.base;
    if ((this.wp.bytes[i >>> 3]! & (1 << (i & 7))) !== 0) {
      this.out[i] = PageClass.unknown;
      this.reasonCounts[rid]!++;
    }
  }

  /** Classify the pfns of one usable section, [s, e). */
  section(s: number, e: number): void {
    // Pfns below 2^31 as small integers: a boxed pfn is reallocated at every step of the loop
    // until TurboFan compiles it.
    if (e < 2 ** 31) {
      s |= 0;
      e |= 0;
    }
    let pfn = s;
    while (pfn < e) {
      if (pfn < this.pendingEnd) {
        // A range an earlier head decided: its struct pages are not needed, so not read.
        const pe = Math.min(this.pendingEnd, e);
        this.fill(pfn, pe, this.pendingClass);
        pfn = pe;
        continue;
      }
      // An unaligned layout may read a field across the next struct page, as the section-wide
      // read always did: it is read to the section's end in one batch.
      pfn = this.batch(pfn, this.aligned ? Math.min(e, pfn + this.batchPfns) : e);
    }
  }

  /**
   * The fields the loop reads, copied to PACKED_STRIDE int32 words per struct page. A field
   * running past the end of the batch (an odd layout's last struct page) reads as zero.
   */
  private pack(v: DataView, count: number): Int32Array {
    if (this.packed.length < count * PACKED_STRIDE) this.packed = new Int32Array(count * PACKED_STRIDE);
    const w = this.packed;
    const len = v.byteLength;
    const at = (o: number) => (o + 4 <= len ? v.getInt32(o, true) : 0);
    for (let i = 0; i < count; i++) {
      const off = i * this.size;
      const b = i * PACKED_STRIDE;
      w[b + P_FLAGS] = at(off + this.fo);
      w[b + P_FLAGS + 1] = at(off + this.fo + 4);
      w[b + P_COMPOUND_HEAD] = at(off + this.cho);
      w[b + P_MAPPING] = at(off + this.mapo);
      w[b + P_PRIVATE] = at(off + this.privo);
      w[b + P_PRIVATE + 1] = at(off + this.privo + 4);
      w[b + P_MAPCOUNT] = at(off + this.mco);
    }
    return w;
  }

  /**
   * Order of the compound head `pfn` (struct page at byte `off` of `v`, a batch ending before
   * pfn `ce`), from page[1]; sets tailView/tailOff to page[1] when it is a tail page.
   */
  private compoundOrder(pfn: number, v: DataView, off: number, ce: number, here: boolean): number {
    let v1 = v;
    let off1 = -1;
    if (pfn + 1 < ce) off1 = off + this.size;
    else if (this.memmap.sectionOf(pfn + 1)) {
      // page[1] lies in the next batch or section: read it alone.
      const b1 = this.memmap.readStructPages(pfn + 1, 1, this.extra);
      if (b1.unreadable.length === 0) {
        v1 = new DataView(this.extra.buffer, 0, this.size);
        off1 = 0;
      }
    }
    let order = 0;
    if (off1 >= 0 && (v1.getUint32(off1 + this.cho, true) & 1) !== 0) {
      order = this.compound.order(v1, off1);
      if (order >= 64 || pfn % pow2(order) !== 0) {
        if (here) this.anomaly('invalid_compound_order');
        order = 0;
      }
    } else {
      if (here) this.anomaly('compound_head_without_tail');
      off1 = -1;
    }
    this.tailView = v1;
    this.tailOff = off1;
    return order;
  }

  /**
   * Pass 1, decode: read the struct pages of [cs, ce) and return them as int32 words (in place
   * when the layout's fields are aligned, else a packed copy), with the word indices of the
   * fields the passes read set in stride / wf / wch / wmap / wpriv / wmc.
   */
  private decode(cs: number, ce: number): Int32Array {
    const batch = this.memmap.readStructPages(cs, ce - cs);
    const v = batch.view;
    let w: Int32Array;
    if (this.aligned && v.byteOffset % 4 === 0) {
      w = new Int32Array(v.buffer, v.byteOffset, v.byteLength >>> 2);
      this.stride = this.size >>> 2;
      this.wf = this.fo >>> 2;
      this.wch = this.cho >>> 2;
      this.wmap = this.mapo >>> 2;
      this.wpriv = this.privo >>> 2;
      this.wmc = this.mco >>> 2;
    } else {
      w = this.pack(v, ce - cs);
      this.stride = PACKED_STRIDE;
      this.wf = P_FLAGS;
      this.wch = P_COMPOUND_HEAD;
      this.wmap = P_MAPPING;
      this.wpriv = P_PRIVATE;
      this.wmc = P_MAPCOUNT;
    }
    this.words = w;
    this.view = v;
    this.bad = batch.unreadable;
    this.bi = 0;
    return w;
  }

  /**
   * Classify [cs, ce) of one section from one batch of struct pages. Returns the first pfn not
   * handled: `ce`, or the pfn where a range decided by an earlier head runs past `ce`.
   *
   * Most struct pages are untyped, neither head nor tail: the loop decides those inline and
   * hands every other one to {@link slow}. A small loop is compiled by TurboFan early in the
   * first batch, and the rare paths (with their own type feedback) cannot deoptimise it.
   */
  private batch(cs: number, ce: number): number {
    const w = this.decode(cs, ce);
    const { stride, wf, wch, wmap, wmc } = this;
    const classOf = this.out;
    const pb = this.wp.bytes;
    const base = this.base;
    // Everything goes the slow way when the batch has unreadable struct pages or free blocks
    // come from the free lists (a head is any pfn then).
    const allSlow = this.bad.length !== 0 || this.freeLists !== null;
    const headH = this.head.half;
    const headM = this.head.mask;
    const slabH = this.slabBit.half;
    const slabM = this.slabBit.mask;
    const hwH = this.hwpoison.half;
    const hwM = this.hwpoison.mask;
    const lruH = this.lru.half;
    const lruM = this.lru.mask;
    const scH = this.swapcache.half;
    const scM = this.swapcache.mask;
    const sbH = this.swapbacked.half;
    const sbM = this.swapbacked.mask;
    const noSb = this.noSwapbacked ? 1 : 0;
    const privH = this.priv.half;
    const privM = this.priv.mask;
    const simple = SIMPLE_CLASS;
    let pendingEnd = this.pendingEnd;
    let pfn = cs;
    for (; pfn < ce; pfn++) {
      if (pfn < pendingEnd) {
        if (pendingEnd >= ce) break;
        this.fill(pfn, pendingEnd, this.pendingClass);
        pfn = pendingEnd - 1;
        continue;
      }
      const b = (pfn - cs) * stride;
      const f0 = w[b + wf]!;
      const f1 = w[b + wf + 1]!;
      const word = w[b + wmc]!;
      // Typed (_mapcount negative but not -1), a tail, or a compound head: the slow way.
      const odd = (word < -1 ? 1 : 0) | (w[b + wch]! & 1) | ((headH ? f1 : f0) & headM);
      if (allSlow || odd !== 0) {
        this.slow(pfn, cs, ce);
        pendingEnd = this.pendingEnd;
        continue;
      }
      // Every test is computed every time (no branch without type feedback when TurboFan
      // compiles the loop); a hole stores 0, its class `hole`, as it already holds.
      // Cache: PG_lru, or PG_swapcache with PG_swapbacked (when the kernel has it).
      const swapCache = (((scH ? f1 : f0) & scM) !== 0 ? 1 : 0) & ((((sbH ? f1 : f0) & sbM) !== 0 ? 1 : 0) | noSb);
      const key =
        (((hwH ? f1 : f0) & hwM) !== 0 ? S_HWPOISON : 0) |
        (((slabH ? f1 : f0) & slabM) !== 0 ? S_SLAB : 0) |
        ((w[b + wmap]! & 1) !== 0 ? S_ANON : 0) |
        ((((lruH ? f1 : f0) & lruM) | swapCache) !== 0 ? S_CACHE : 0) |
        (((privH ? f1 : f0) & privM) !== 0 ? S_PRIVATE : 0);
      const li = pfn - base;
      classOf[li] = simple[key]! & -((pb[li >>> 3]! >>> (li & 7)) & 1);
    }
    return pfn;
  }

  /** Classify pfn `pfn` of the current batch [cs, ce) by every rule (see the file's header). */
  private slow(pfn: number, cs: number, ce: number): void {
    const w = this.words;
    const classOf = this.out;
    const li = pfn - this.base;
    const here = (this.wp.bytes[li >>> 3]! & (1 << (li & 7))) !== 0;
    const bad = this.bad;
    if (this.bi < bad.length) {
      while (this.bi < bad.length && bad[this.bi]!.end <= pfn) this.bi++;
      if (this.bi < bad.length && bad[this.bi]!.start <= pfn) {
        this.unknown(pfn, bad[this.bi]!.reason === 'struct_page_unmapped' ? this.ridUnmapped : this.ridNotInDump);
        return;
      }
    }
    const i = pfn - cs;
    const b = i * this.stride;
    if ((w[b + this.wch]! & 1) !== 0) {
      // A tail page outside its head's range (the head was kept page-by-page or unreadable).
      this.unknown(pfn, this.ridOrphan);
      return;
    }
    const f0 = w[b + this.wf]!;
    const f1 = w[b + this.wf + 1]!;
    // The _mapcount / page_type word as an int32: untyped pages hold -1 or a mapcount ≥ 0;
    // every scheme's typed values are other negatives.
    const word = w[b + this.wmc]!;
    const typed = word < -1;
    const slab = has(this.slabBit, f0, f1) || (typed && is(this.slabT, word));

    // Free blocks: buddy heads (page type) or free-list heads.
    if (!slab && this.freeBlock(pfn, b, f0, f1, word, here)) return;

    // Compound head: its order, read from page[1].
    let order = 0;
    let off1 = -1;
    const off = i * this.size;
    if (has(this.head, f0, f1)) {
      order = this.compoundOrder(pfn, this.view!, off, ce, here);
      off1 = this.tailOff;
    }

    let cls: number;
    if (has(this.hwpoison, f0, f1)) cls = PageClass.hwpoison;
    else if (!slab && typed && is(this.offlineT, word)) cls = PageClass.offline;
    else {
      const anon = !slab && (w[b + this.wmap]! & 1) !== 0;
      const cache = has(this.lru, f0, f1) || (has(this.swapcache, f0, f1) && (this.noSwapbacked || has(this.swapbacked, f0, f1)));
      if (cache && !anon) cls = has(this.priv, f0, f1) ? PageClass.cache_private : PageClass.cache;
      else if (anon) cls = PageClass.user;
      else if (off1 >= 0 && this.compound.isHugetlb(this.tailView!, off, off1, word >>> 0)) cls = PageClass.hugetlb;
      else if (off1 < 0 && typed && is(this.hugetlbT, word)) cls = PageClass.hugetlb;
      else if (slab) cls = PageClass.slab;
      else cls = PageClass.kernel;
    }
    if (here) classOf[li] = cls;
    if (order > 0) {
      this.pendingEnd = pfn + pow2(order);
      this.pendingClass = cls;
    }
  }

  /**
   * The buddy-block / free-list fix-up: if the (non-slab) struct page at word `b` of the batch
   * heads a free block (a buddy page type with its order in page->private, a free-list head, or
   * an unaccepted MAX_ORDER block), class the block's first page and make the block pending.
   * Returns false when it heads none.
   */
  private freeBlock(pfn: number, b: number, f0: number, f1: number, word: number, here: boolean): boolean {
    const w = this.words;
    const li = pfn - this.base;
    const typed = word < -1;
    let blockOrder = -1;
    let cls: number = PageClass.free;
    let combined = false;
    let reported = false;
    if (typed && is(this.buddyT, word)) {
      const lo = w[b + this.wpriv]! >>> 0;
      const hi = w[b + this.wpriv + 1]!;
      blockOrder = hi !== 0 || lo >= this.nrOrders ? 64 : lo;
      combined = is(this.hintedT, word);
      reported = has(this.reported, f0, f1);
    } else if (this.freeLists !== null) {
      const o = this.freeLists.heads.get(pfn);
      if (o !== undefined) {
        blockOrder = o;
        reported = has(this.reported, f0, f1);
      }
    }
    if (combined || reported) cls = PageClass.hinted;
    if (blockOrder < 0 && typed && is(this.unacceptedT, word)) blockOrder = this.nrOrders - 1;
    if (blockOrder >= 0) {
      if (blockOrder >= 64 || pfn % pow2(blockOrder) !== 0) {
        this.unknown(pfn, this.ridInvalidOrder);
        return true;
      }
      if (here) this.out[li] = cls;
      this.pendingEnd = pfn + pow2(blockOrder);
      this.pendingClass = cls;
      if (cls === PageClass.hinted) {
        // The block's present pages (the ones its class is counted for).
        const n = this.readable.count(pfn, Math.min(this.pendingEnd, this.maxMapnr));
        if (combined) this.hintedBy.combined += n;
        if (reported) this.hintedBy.reported += n;
      }
      return true;
    }
    return false;
  }
}
