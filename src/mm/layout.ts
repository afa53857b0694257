/**
 * struct page and the mm structures around it, as offsets. One definition serves the
 * simulator (which encodes struct pages and writes VMCOREINFO from it) and the decoder
 * (which builds the same shape from the dump's VMCOREINFO and decodes with it).
 */
import type { Vmcoreinfo } from '../vmcoreinfo/parse.js';
import { VmcoreError } from '../errors.js';

/** Offsets inside struct page (bytes), from `SIZE(page)` / `OFFSET(page.*)`. */
export interface StructPageLayout {
  size: number;
  flags: number;
  /** `lru` list_head; its `next` shares the word with `compound_head`. */
  lru: number;
  compoundHead: number;
  mapping: number;
  private: number;
  /** The 32-bit `_mapcount` / `page_type` word. */
  mapcount: number;
  refcount: number;
  /** Offset in the first tail page of the compound destructor id (u8), ≤ 6.2 kernels. */
  compoundDtor?: number;
  /** Offset in the first tail page of the compound order (u8), ≤ 6.2 kernels. */
  compoundOrder?: number;
}

/** Page flag bit numbers (`NUMBER(PG_*)`) and the head mask. */
export interface PageFlagBits {
  lru: number;
  private: number;
  swapcache: number;
  swapbacked?: number;
  /** PG_slab, exported up to 6.9; later slab is a page type. */
  slab?: number;
  hwpoison?: number;
  /** `NUMBER(PG_head_mask)` = 1 << PG_head. */
  headMask: bigint;
}

/** Offsets of the structures a free-list walk needs. */
export interface ZoneLayout {
  pglistDataSize: number;
  zoneSize: number;
  freeAreaSize: number;
  listHeadSize: number;
  nodemaskSize: number;
  nodeZones: number;
  nrZones: number;
  nodeStartPfn: number;
  nodeSpannedPages: number;
  nodeId: number;
  zoneFreeArea: number;
  zoneVmStat: number;
  zoneSpannedPages: number;
  freeAreaFreeList: number;
  listHeadNext: number;
  listHeadPrev: number;
  /** LENGTH(zone.free_area): number of orders (MAX_ORDER, 11 on x86_64). */
  nrOrders: number;
  /** LENGTH(free_area.free_list): MIGRATE_TYPES. */
  nrMigrateTypes: number;
}

/** A decoded struct page: the fields the classifier reads. */
export interface StructPage {
  flags: bigint;
  compoundHead: bigint;
  mapping: bigint;
  private: bigint;
  /** The u32 `_mapcount` / `page_type` word. */
  mapcount: number;
  refcount: number;
}

/** Encode one struct page into `view` at `off` (simulator side). */
export function encodeStructPage(view: DataView, off: number, p: StructPage, l: StructPageLayout): void {
  view.setBigUint64(off + l.flags, p.flags, true);
  view.setBigUint64(off + l.compoundHead, p.compoundHead, true);
  view.setBigUint64(off + l.mapping, p.mapping, true);
  view.setBigUint64(off + l.private, p.private, true);
  view.setUint32(off + l.mapcount, p.mapcount >>> 0, true);
  view.setUint32(off + l.refcount, p.refcount >>> 0, true);
}

/** Decode one struct page from `view` at `off` (decoder side). */
export function decodeStructPage(view: DataView, off: number, l: StructPageLayout): StructPage {
  return {
    flags: view.getBigUint64(off + l.flags, true),
    compoundHead: view.getBigUint64(off + l.compoundHead, true),
    mapping: view.getBigUint64(off + l.mapping, true),
    private: view.getBigUint64(off + l.private, true),
    mapcount: view.getUint32(off + l.mapcount, true),
    refcount: view.getUint32(off + l.refcount, true),
  };
}

/** The keys a struct page scan cannot do without. */
export const STRUCT_PAGE_REQUIRED_KEYS = [
  'SIZE(page)',
  'OFFSET(page.flags)',
  'OFFSET(page.mapping)',
  'OFFSET(page._mapcount)',
  'OFFSET(page.private)',
] as const;

/** Build the struct page layout from VMCOREINFO; throws E_VMCOREINFO naming missing keys. */
export function structPageLayoutFromVmcoreinfo(vi: Vmcoreinfo): StructPageLayout {
  const missing = STRUCT_PAGE_REQUIRED_KEYS.filter((k) => !vi.has(k));
  if (missing.length) {
    throw new VmcoreError('E_VMCOREINFO', `VMCOREINFO lacks ${missing.join(', ')}: cannot decode struct page`, {
      key: missing.join(','),
    });
  }
  const size = vi.size('page')!;
  const l: StructPageLayout = {
    size,
    flags: vi.offset('page.flags')!,
    lru: vi.offset('page.lru') ?? 8,
    compoundHead: vi.offset('page.compound_head') ?? vi.offset('page.compound_info') ?? vi.offset('page.lru') ?? 8,
    mapping: vi.offset('page.mapping')!,
    private: vi.offset('page.private')!,
    mapcount: vi.offset('page._mapcount')!,
    refcount: vi.offset('page._refcount') ?? vi.offset('page._count') ?? 52,
    compoundDtor: vi.offset('page.compound_dtor'),
    compoundOrder: vi.offset('page.compound_order'),
  };
  if (l.compoundDtor === undefined && vi.has('OFFSET(folio._folio_dtor)')) l.compoundDtor = vi.offset('folio._folio_dtor')! - size;
  if (l.compoundOrder === undefined && vi.has('OFFSET(folio._folio_order)')) l.compoundOrder = vi.offset('folio._folio_order')! - size;
  if (size < 32 || size > 256) {
    throw new VmcoreError('E_VMCOREINFO', `SIZE(page)=${size} is implausible`, { key: 'SIZE(page)' });
  }
  for (const [k, v] of Object.entries(l)) {
    if (typeof v === 'number' && k !== 'size' && (v < 0 || v >= size)) {
      throw new VmcoreError('E_VMCOREINFO', `OFFSET(page.${k})=${v} lies outside SIZE(page)=${size}`, { key: `OFFSET(page.${k})` });
    }
  }
  return l;
}

/** Page flag bits from VMCOREINFO. */
export function pageFlagBitsFromVmcoreinfo(vi: Vmcoreinfo): PageFlagBits {
  const need = (n: string) => vi.require(`NUMBER(${n})`, vi.numberAsInt(n));
  const bit = (n: string) => {
    const v = vi.numberAsInt(n);
    if (v !== undefined && (v < 0 || v > 63)) {
      throw new VmcoreError('E_VMCOREINFO', `NUMBER(${n})=${v} is not a page flag bit`, { key: `NUMBER(${n})` });
    }
    return v;
  };
  const headMask = vi.number('PG_head_mask');
  return {
    lru: bit('PG_lru') ?? need('PG_lru'),
    private: bit('PG_private') ?? need('PG_private'),
    swapcache: bit('PG_swapcache') ?? need('PG_swapcache'),
    swapbacked: bit('PG_swapbacked'),
    slab: bit('PG_slab'),
    hwpoison: bit('PG_hwpoison'),
    headMask: headMask ?? 0n,
  };
}
